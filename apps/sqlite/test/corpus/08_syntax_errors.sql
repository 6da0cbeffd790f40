SELECT 1;
SELEKT 2;
SELECT 3 FROM;
CREATE TABLE ok (a);
INSERT INTO ok VALUES (1), (2);
SELECT * FROM missing_table;
SELECT a FROM ok; SELECT nope FROM ok; SELECT a * 10 FROM ok;
SELECT 'after the errors';
