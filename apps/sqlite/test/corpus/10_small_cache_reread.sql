-- A page cache of 10 pages: SQLite must evict pages and read them back from the file,
-- so every result below depends on what the VFS wrote (gathered writes included).
PRAGMA cache_size = 10;
CREATE TABLE t (k INTEGER PRIMARY KEY, s TEXT, b BLOB);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
  INSERT INTO t SELECT i, printf('row-%05d-%s', i, hex(i * 104729)), zeroblob(i % 700) FROM c;
BEGIN;
UPDATE t SET s = s || '-updated' WHERE k % 3 = 0;
DELETE FROM t WHERE k % 7 = 0;
INSERT INTO t (s, b) VALUES ('late', x'0102030405');
COMMIT;
BEGIN;
UPDATE t SET s = 'rolled back' WHERE k < 1000;
ROLLBACK;
SELECT count(*), sum(length(s)), sum(length(b)), max(k) FROM t;
SELECT k, s FROM t WHERE k IN (1, 3, 7, 999, 1998, 2001) ORDER BY k;
SELECT s FROM t ORDER BY k DESC LIMIT 3;
INSERT INTO t (s, b) SELECT 'blob', zeroblob(150000);
SELECT length(b) FROM t WHERE s = 'blob';
PRAGMA integrity_check;
