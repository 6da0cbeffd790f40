CREATE TABLE dept (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT, dept INTEGER REFERENCES dept(id), salary REAL);
INSERT INTO dept VALUES (1, 'kernel'), (2, 'compiler'), (3, 'empty');
INSERT INTO emp VALUES (1, 'ada', 1, 120.5), (2, 'ken', 1, 99.25), (3, 'grace', 2, 130), (4, 'nobody', NULL, 10);
SELECT d.name, e.name FROM dept d JOIN emp e ON e.dept = d.id ORDER BY d.name, e.name;
SELECT d.name, count(e.id), sum(e.salary), avg(e.salary) FROM dept d LEFT JOIN emp e ON e.dept = d.id GROUP BY d.id ORDER BY d.id;
SELECT dept, group_concat(name, ',') FROM emp GROUP BY dept HAVING count(*) > 1;
SELECT name FROM emp WHERE dept IS NULL;
SELECT total(salary), min(salary), max(salary) FROM emp;
