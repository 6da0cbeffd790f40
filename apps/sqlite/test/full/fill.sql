CREATE TABLE t (x);
INSERT INTO t VALUES ('first');
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000)
INSERT INTO t SELECT printf('%.500c', 'x') FROM c;
SELECT count(*), max(length(x)) FROM t;
INSERT INTO t VALUES ('second');
SELECT group_concat(x) FROM t;
