SELECT 1, 1.0, 1.5, -0.0, 1e100, 1e-7, 3.141592653589793, 0.1 + 0.2, 1.0/3;
SELECT 'text', '', NULL, 'a|b', 'line
break';
SELECT x'41424344', CAST('abc' AS BLOB), typeof(x'00'), length(x'0001');
SELECT 9223372036854775807, -9223372036854775808, 9223372036854775807 + 1;
SELECT 2.5 * 4, 10 / 4, 10 / 4.0, 7 % 3, round(2.675, 2);
SELECT printf('%5.2f|%d|%s', 3.14159, 42, 'x'), hex('hi'), quote('it''s');
