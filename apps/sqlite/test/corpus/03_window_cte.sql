CREATE TABLE t (g TEXT, v INTEGER);
INSERT INTO t VALUES ('a', 1), ('a', 3), ('b', 2), ('b', 5), ('b', 7);
SELECT g, v, sum(v) OVER (PARTITION BY g ORDER BY v) AS running, row_number() OVER (ORDER BY v DESC) FROM t ORDER BY g, v;
SELECT g, v, lag(v) OVER (PARTITION BY g ORDER BY v), rank() OVER (ORDER BY g) FROM t ORDER BY v;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10) SELECT sum(x), group_concat(x) FROM n;
WITH big AS (SELECT * FROM t WHERE v > 2) SELECT g, count(*) FROM big GROUP BY g;
