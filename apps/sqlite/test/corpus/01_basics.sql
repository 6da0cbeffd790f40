CREATE TABLE tab (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
INSERT INTO tab VALUES (null, 'value');
INSERT INTO tab VALUES (null, 'another value');
INSERT INTO tab (text) VALUES ('third'), ('fourth');
SELECT * FROM tab;
SELECT count(*), max(id) FROM tab;
UPDATE tab SET text = upper(text) WHERE id % 2 = 0;
DELETE FROM tab WHERE id = 1;
SELECT id, text, length(text) FROM tab ORDER BY id DESC;
