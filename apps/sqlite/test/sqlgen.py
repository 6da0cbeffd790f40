#!/usr/bin/env python3
"""Seeded random SQL workloads for the SQLite image's differential test.

    python3 sqlgen.py SEED [--scale small|full] [--errors]

prints one SQL script, fully determined by SEED and the scale, meant to be run both by
the image (`IMAGE FILE`) and by the real CLI (`sqlite3 -batch :memory: < FILE`); the two
must agree byte for byte on standard output, standard error and the exit status.
`--errors` prints instead the line numbers sqlite3 should report ("near line N"), one
per statement that fails on purpose, in order: the generator's own check.

Each script stresses the paths between SQLite and its file system: a page cache of a
few pages (`PRAGMA cache_size`) and temporary files on the file system
(`PRAGMA temp_store = FILE`), tables of 10^4-10^5 rows (2,000-5,000 at small scale)
with single, multi-column and UNIQUE indexes, blobs of a few KiB, UPDATE / DELETE /
INSERT ... SELECT over hundreds to thousands of rows, transactions, nested savepoints,
VACUUM, TEMP tables, sorts larger than the cache, and statements that fail on purpose
(constraints, syntax errors, missing tables and columns) so that standard error is
compared too. After each data-changing step a checksum query makes a lost or corrupted
write visible. The layout varies: several statements on a line, statements over several
lines, comments and blank lines, so that the "near line N" numbers are compared too.

Only what prints the same from a file database and from :memory: is used: no
random(), no clock, no page counts or journal modes, no file names, no extension
function of the sqlite3 shell (generate_series, sha3, decimal, regexp, ...), blobs
printed only through hex(), length() or aggregates, and every printed ORDER BY is a
total order. Standard library only; the one source of randomness is
random.Random(SEED).
"""

import argparse
import random
import sys

LETTERS = 'abcdefghijklmnopqrstuvwxyz'
# What the passes over the big table t1 may cost, in microseconds of sqlite3 on the
# project's 2-vCPU VM: a full-scale script stays under ~2 s, a small one under ~0.3 s.
BUDGET_FULL = 1_100_000
BUDGET_SMALL = 150_000


class Stmt:
    """One SQL statement. text: the statement on one line, ending with ';' (layout
    'raw': its own lines). fails: sqlite3 must report an error for it. select: a query
    nothing later depends on, so it may stand after a failing statement on the same
    line, where sqlite3 skips it (the rest of a failed chunk does not run). layout: None
    (the renderer chooses), 'line' (not split), 'multi' (over several lines), 'raw'
    (text already has its lines)."""

    __slots__ = ('text', 'fails', 'select', 'layout')

    def __init__(self, text, fails=False, select=False, layout=None):
        self.text = text
        self.fails = fails
        self.select = select
        self.layout = layout


def safe_split_points(text):
    """Offsets of spaces in text that are outside quoted strings and names: a line break
    there does not change the statement."""
    points = []
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in '\'"`':
            quote = ch
        elif ch == '[':
            quote = ']'
        elif ch == ' ' and 0 < i < len(text) - 1:
            points.append(i)
    return points


def bad_continuation(part):
    """A line the CLI would read as something else than SQL text: a dot-command or
    '#' comment where a statement starts, or a lone '/' or 'go' (statement terminators)."""
    s = part.strip()
    return (not s or s[0] in '.#' or s == '/' or s.lower() == 'go' or s.startswith('--')
            or s.startswith('/*'))


class Renderer:
    """Lays statements out over lines and computes, for each statement that must fail,
    the line sqlite3 reports: the first line of the input chunk that holds it (the CLI
    reads lines until the text ends with a complete statement, then runs the chunk; a
    chunk's statements after a failing one are skipped)."""

    def __init__(self, rng):
        self.rng = rng
        self.lines = []
        self.cur = ''             # the physical line being built
        self.chunk_start = None   # first line of the chunk in progress
        self.cur_has_failure = False
        self.expected = []

    def lineno(self):
        return len(self.lines) + 1

    def comment_text(self):
        r = self.rng
        words = ['check', 'step', 'pages', 'cache', 'journal', 'sort', "don't stop here",
                 'a;b', 'x -- y', "it's fine;", 'the next one fails', 'big update', 'rows']
        return ' '.join(r.choice(words) for _ in range(r.randint(1, 4)))

    def flush(self):
        if self.cur:
            if self.rng.random() < 0.06:
                self.cur += ' -- ' + self.comment_text()
            self.lines.append(self.cur)
        self.cur = ''
        self.chunk_start = None
        self.cur_has_failure = False

    def decorate(self):
        """Between chunks: blank lines and comments, which the CLI swallows."""
        r = self.rng
        x = r.random()
        if x < 0.08:
            self.lines.append('')
        elif x < 0.14:
            self.lines.append('-- ' + self.comment_text())
        elif x < 0.16:
            self.lines.append('/* ' + self.comment_text() + ' */')
        elif x < 0.18:
            # A block comment over two lines, closed on its own: swallowed too.
            self.lines.append('/* ' + self.comment_text())
            self.lines.append('   ' + self.comment_text() + ' */')
        elif x < 0.20:
            self.lines.append('\t')

    def split(self, text, parts):
        points = safe_split_points(text)
        if len(points) < parts - 1:
            return [text]
        for _ in range(6):
            cuts = sorted(self.rng.sample(points, parts - 1))
            pieces = []
            start = 0
            for c in cuts:
                pieces.append(text[start:c])
                start = c + 1
            pieces.append(text[start:])
            if not any(bad_continuation(p) for p in pieces[1:]):
                return pieces
        return [text]

    def add(self, st):
        r = self.rng
        layout = st.layout
        # Decide the pieces the statement goes over.
        if layout == 'raw':
            pieces = st.text.split('\n')
        elif layout == 'multi':
            pieces = self.split(st.text, r.randint(2, 4))
        elif layout is None and len(st.text) > 70 and r.random() < 0.3:
            pieces = self.split(st.text, r.randint(2, 4))
        else:
            pieces = [st.text]
        # Can it go on the current line, after the statements already there?
        glue = (self.cur and not self.cur_has_failure and layout != 'raw'
                and len(self.cur) < 90 and (len(pieces) > 1 or len(pieces[0]) < 70)
                and r.random() < (0.5 if layout != 'line' else 0.25))
        if self.cur_has_failure and st.select and len(st.text) < 50 and r.random() < 0.3:
            glue = True   # sqlite3 skips it: the rest of a failed chunk does not run
        if self.cur and not glue:
            self.flush()
        if not self.cur:
            self.decorate()
            if r.random() < 0.03:
                # A block comment that opens the chunk, closed on the statement's line:
                # the chunk starts on the comment's first line.
                self.chunk_start = self.lineno()
                self.lines.append('/* ' + self.comment_text())
                self.cur = '  ' + self.comment_text() + ' */ ' + pieces[0]
            else:
                if self.chunk_start is None:
                    self.chunk_start = self.lineno()
                indent = ' ' * r.choice([0, 0, 0, 0, 2]) if r.random() < 0.2 else ''
                self.cur = indent + pieces[0]
        else:
            self.cur += r.choice([' ', ' ', '  ', '\t']) + pieces[0]
        if st.fails and not self.cur_has_failure:
            self.expected.append(self.chunk_start)
        elif st.fails:
            raise AssertionError('two failing statements in one chunk: ' + st.text)
        for piece in pieces[1:]:
            if layout != 'raw' and r.random() < 0.1:
                self.cur += ' -- ' + self.comment_text()
            self.lines.append(self.cur)
            self.cur = (r.choice(['  ', '    ', '\t', '']) if layout != 'raw' else '') + piece
        if st.fails:
            self.cur_has_failure = True

    def text(self):
        self.flush()
        return '\n'.join(self.lines) + '\n'


class Gen:
    def __init__(self, seed, scale):
        self.rng = random.Random(seed)
        self.seed = seed
        self.full = scale == 'full'
        self.out = []           # steps: lists of Stmt
        self.step = []
        self.temp_serial = 0
        self.sp_serial = 0
        self.have_extra_column = False
        self.extra_indexes = []

    # -- helpers -------------------------------------------------------------------

    def emit(self, text, **kw):
        self.step.append(Stmt(text, **kw))

    def fail(self, text, **kw):
        self.step.append(Stmt(text, fails=True, **kw))

    def end_step(self):
        if self.step:
            self.out.append(self.step)
        self.step = []

    def ri(self, a, b):
        return self.rng.randint(a, b)

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p):
        return self.rng.random() < p

    def kw(self, word):
        """Keywords in varying case."""
        x = self.rng.random()
        if x < 0.8:
            return word
        if x < 0.9:
            return word.lower()
        return word.capitalize()

    def cte(self, lo, hi, name='s', col='x'):
        return (f"WITH RECURSIVE {name}({col}) AS (SELECT {lo} UNION ALL "
                f"SELECT {col} + 1 FROM {name} WHERE {col} < {hi})")

    def id_range(self, table, count):
        """A range of ids [a, b] in the table's allocated ids, and a modulus m so
        that about `count` rows match `id BETWEEN a AND b AND id % m = r`."""
        top = self.next_id[table]
        m = self.pick([1, 1, 2, 3, 5, 7])
        span = min(top - 11, count * m)
        a = self.ri(11, max(11, top - span))
        return a, a + span, m, self.ri(0, m - 1)

    def range_pred(self, table, count):
        a, b, m, r = self.id_range(table, count)
        if m == 1:
            return f"id BETWEEN {a} AND {b}"
        return f"id BETWEEN {a} AND {b} AND id % {m} = {r}"

    # -- what a pass over t1 costs ------------------------------------------------------

    def afford(self, weight):
        """Whether a statement that reads all of t1 still fits the script's time budget
        (weight: microseconds per row in sqlite3 on the project's VM); if so, charges it.
        Otherwise the caller restricts the statement to a window of t1's ids."""
        cost = weight * self.n1
        if cost <= self.budget:
            self.budget -= cost
            return True
        return False

    def charge(self, weight):
        self.budget -= weight * self.n1

    def t1_window(self):
        span = 4000 if self.full else 1500
        a = self.ri(1, max(1, self.next_id['t1'] - span))
        return a, a + span

    def t1_src(self, weight):
        """t1 whole, or a window of a few thousand of its ids (still more pages than the
        cache holds)."""
        if self.afford(weight):
            return 't1'
        a, b = self.t1_window()
        return f"(SELECT * FROM t1 WHERE id BETWEEN {a} AND {b})"

    def t1_tail_pred(self, weight):
        """'' (every row) or a condition keeping the last few thousand rows."""
        if self.afford(weight):
            return ''
        return f" AND id >= (SELECT max(id) FROM t1) - {4000 if self.full else 1500}"

    # -- schema and data -----------------------------------------------------------

    def t1_fill(self, lo, hi):
        p = self.t1p
        text = (f"printf('%s-%d-%.*c%s', '{p['word']}', x, {p['tmin']} + (x * {p['c']}) % {p['tspan']}, "
                f"substr('{LETTERS}', 1 + x % 26, 1), "
                f"CASE WHEN x % 13 = 0 THEN char(233, 0x4e2d, 0x1F600) ELSE '' END)")
        blob = (f"CASE x % 5 WHEN 0 THEN NULL WHEN 1 THEN zeroblob(x % 64) "
                f"WHEN 2 THEN x'00ff5a10' "
                f"ELSE cast(printf('%.*c', x % {p['bmax']}, char(65 + x % 26)) AS blob) END")
        cols = "id, k, grp, name, t, b, r"
        sel = (f"SELECT x, (x * {p['a']}) % 1000003, x % {p['g']}, "
               f"CASE WHEN x % 97 = 0 AND x > 10 THEN NULL ELSE printf('n%07d', x) END, "
               f"{text}, {blob}, (x % 1000) * 0.25 FROM s")
        if self.chance(0.5):
            return f"{self.cte(lo, hi)} INSERT INTO t1 ({cols}) {sel};"
        return f"INSERT INTO t1 ({cols}) {self.cte(lo, hi)} {sel};"

    def w_fill(self, lo, hi):
        p = self.wp
        return (f"{self.cte(lo, hi)} INSERT INTO w (id, a, pad, note) SELECT x, x % {p['amod']}, "
                f"printf('%.*c', {p['pmin']} + (x * 31) % {p['pspan']}, char(65 + x % 26)) || x, "
                f"CASE WHEN x % 4 = 0 THEN NULL ELSE 'note ' || (x * 7) % 1000 END FROM s;")

    def bl_fill(self, lo, hi):
        p = self.blp
        return (f"{self.cte(lo, hi)} INSERT INTO bl (id, tag, b) SELECT x, 'tag' || (x % 17), "
                f"CASE x % 6 WHEN 0 THEN zeroblob((x * 37) % {p['bmax']}) "
                f"WHEN 1 THEN x'deadbeef00' "
                f"ELSE cast(printf('%.*c', (x * 53) % {p['bmax']}, char(97 + x % 26)) || printf('%06d', x) AS blob) END "
                f"FROM s;")

    def c_fill(self, lo, hi):
        # The first fill spreads children over every parent; later ones use the parents
        # 1..10, which are never deleted (other parents may be).
        parents = self.np if lo == 1 else 10
        return (f"{self.cte(lo, hi)} INSERT INTO c (id, pid, v) SELECT x, "
                f"CASE WHEN x <= 10 THEN x ELSE 1 + (x * 7) % {parents} END, "
                f"printf('child %d of %d', x, 1 + (x * 7) % {parents}) FROM s;")

    def t2_fill(self, lo, hi):
        return (f"{self.cte(lo, hi)} INSERT OR IGNORE INTO t2 (g, s, v) "
                f"SELECT x % 211, printf('%x-%s', x, substr('{LETTERS}', 1 + x % 20, 1 + x % 7)), x * 3 FROM s;")

    def setup(self):
        r = self.rng
        full = self.full
        # Pragmas first: a tiny page cache, temporary files on the file system.
        if self.chance(0.3):
            self.emit(f"PRAGMA page_size = {self.pick([1024, 2048, 4096, 8192])};")
        self.emit(f"PRAGMA cache_size = {self.ri(5, 50)};")
        self.emit(f"PRAGMA temp_store = {self.pick(['FILE', 'FILE', 'file', '1'])};")
        self.emit("PRAGMA foreign_keys = ON;")
        self.end_step()

        # Log-uniform: mostly a few 10^4 rows, sometimes close to 10^5.
        n1 = int(10 ** r.uniform(4, 5)) if full else self.ri(2000, 5000)
        self.n1 = n1
        # Time budget for the passes over all of t1, beyond those every script makes.
        self.budget = BUDGET_FULL if full else BUDGET_SMALL
        self.charge(5.5)    # the fill
        self.charge(6)      # the final integrity check and checksums
        # Keep t1 to a few MiB: long texts when there are few rows.
        avg = max(24, min(320, (3_500_000 if full else 900_000) // n1))
        self.t1p = dict(word=self.pick(['alpha', 'beta', 'gamma', 'delta', 'omega', 'kappa']),
                        a=self.pick([7919, 104729, 1299709, 15485863]), c=self.pick([31, 37, 41, 43]),
                        g=self.ri(20, 400), tmin=max(1, avg // 3), tspan=max(2, avg), bmax=self.ri(40, 200))
        self.wp = dict(amod=self.ri(50, 500), pmin=self.ri(150, 250), pspan=self.ri(50, 250))
        self.blp = dict(bmax=self.ri(2000, 6000))
        nw = self.ri(2000, 6000) if full else self.ri(1000, 2500)
        nbl = self.ri(300, 1200) if full else self.ri(60, 200)
        self.np = self.ri(100, 1000) if full else self.ri(30, 100)
        nc = self.ri(2000, 10000) if full else self.ri(400, 1200)
        n2 = self.ri(3000, 15000) if full else self.ri(600, 1500)
        self.next_id = dict(t1=n1, w=nw, bl=nbl, c=nc, p=self.np, t2=n2)
        self.cascade = self.chance(0.5)
        self.deferred = self.chance(0.4)
        self.ck = self.pick([7919, 7907, 7901, 7883])

        named_check = self.chance(0.5)
        check = "CONSTRAINT k_nonneg CHECK (k >= 0)" if named_check else "CHECK (k >= 0)"
        unique_col = self.chance(0.5)
        self.emit(f"CREATE TABLE t1 (id INTEGER PRIMARY KEY, k INTEGER NOT NULL {check}, grp INTEGER, "
                  f"name TEXT{' UNIQUE' if unique_col else ''}, t TEXT, b BLOB, r REAL);", layout='multi'
                  if self.chance(0.5) else None)
        if not unique_col:
            self.emit("CREATE UNIQUE INDEX t1_name ON t1(name);")
        self.emit("CREATE INDEX t1_k ON t1(k);")
        self.emit(f"CREATE INDEX t1_grp_k ON t1(grp, k{self.pick(['', ' DESC'])});")
        if self.chance(0.5):
            self.emit("CREATE INDEX t1_len ON t1(length(t));")
        if self.chance(0.4):
            self.emit("CREATE INDEX t1_part ON t1(r) WHERE grp < 10;")
        self.emit("CREATE TABLE w (id INTEGER PRIMARY KEY, a INTEGER, pad TEXT, note TEXT);")
        self.emit("CREATE INDEX w_a ON w(a, id);")
        self.emit("CREATE TABLE bl (id INTEGER PRIMARY KEY, tag TEXT, b BLOB NOT NULL);")
        self.emit("CREATE INDEX bl_tag ON bl(tag);")
        self.emit("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);")
        fk = "REFERENCES p(id)"
        if self.cascade:
            fk += " ON DELETE CASCADE"
        if self.deferred:
            fk += " DEFERRABLE INITIALLY DEFERRED"
        self.emit(f"CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL {fk}, v TEXT);")
        self.emit("CREATE INDEX c_pid ON c(pid);")
        self.emit("CREATE TABLE t2 (g INTEGER, s TEXT, v INTEGER, PRIMARY KEY (g, s)) WITHOUT ROWID;")
        self.emit("CREATE TABLE audit (n INTEGER PRIMARY KEY, op TEXT, rid INTEGER, len INTEGER);")
        self.emit("CREATE TRIGGER t1_audit AFTER DELETE ON t1\n"
                  "WHEN old.id % 10 = 0\n"
                  "BEGIN\n"
                  "  INSERT INTO audit (op, rid, len) VALUES ('del', old.id, length(old.t));\n"
                  "END;", layout='raw')
        self.emit("CREATE TRIGGER w_guard BEFORE UPDATE OF a ON w WHEN new.a < 0 "
                  "BEGIN SELECT RAISE(ABORT, 'w.a must not be negative'); END;",
                  layout=self.pick([None, 'raw']))
        if self.step[-1].layout == 'raw':
            self.step[-1].text = self.step[-1].text.replace(' BEGIN ', '\nBEGIN\n  ').replace('; END;', ';\nEND;')
        self.end_step()

        # Fill in one transaction or in autocommit.
        in_txn = self.chance(0.5)
        if in_txn:
            self.emit("BEGIN;")
        self.emit(self.t1_fill(1, n1))
        self.emit(self.w_fill(1, nw))
        self.emit(self.bl_fill(1, nbl))
        self.emit(f"{self.cte(1, self.np)} INSERT INTO p (id, name) SELECT x, 'parent ' || x FROM s;")
        self.emit(self.c_fill(1, nc))
        self.emit(self.t2_fill(1, n2))
        if in_txn:
            self.emit("COMMIT;")
        self.checksums(['t1', 'w', 'bl', 'p', 'c', 't2'], everything=True)
        self.end_step()

    # -- checksums -----------------------------------------------------------------

    def checksum(self, table, src=None):
        ck = self.ck
        if table == 't1':
            return (f"SELECT count(*), total(id), total(k), total(length(b)), "
                    f"sum((id * {ck} + length(coalesce(t, '')) * 31 + coalesce(unicode(substr(t, 1 + id % 17, 1)), 0) * 131 "
                    f"+ coalesce(instr(b, x'5a'), 0) + coalesce(length(name), 0) + grp) % 1000003), total(r) "
                    f"FROM {src or 't1'};")
        if table == 'w':
            extra = ", total(length(extra))" if self.have_extra_column else ""
            return (f"SELECT count(*), total(a), total(length(pad)), "
                    f"sum((id * {ck} + unicode(substr(pad, 1 + id % 97, 1)) * 7 + length(coalesce(note, 'x'))) % 1000003)"
                    f"{extra} FROM w;")
        if table == 'bl':
            return (f"SELECT count(*), total(length(b)), sum((id * {ck} + instr(b, cast(char(97 + id % 26) AS blob)) "
                    f"+ instr(b, x'00') * 3 + instr(b, x'ef')) % 1000003), count(DISTINCT tag) FROM bl;")
        if table == 'p':
            return "SELECT count(*), total(id), sum(length(name)) FROM p;"
        if table == 'c':
            return f"SELECT count(*), total(pid), sum((id * {ck} + length(v)) % 1000003) FROM c;"
        if table == 't2':
            return f"SELECT count(*), total(g), total(v), sum(length(s) * g % 1000003) FROM t2;"
        if table == 'audit':
            return "SELECT count(*), total(rid), total(len) FROM audit;"
        raise ValueError(table)

    def checksums(self, tables, everything=False):
        for t in tables:
            if t == 't1' and not everything:
                self.emit(self.checksum(t, self.t1_src(1.3)), select=True)
            else:
                self.emit(self.checksum(t), select=not everything)
        if 't1' in tables and self.chance(0.3):
            self.emit("SELECT count(*), total(k) FROM t1 WHERE k >= 0;", select=True)   # through t1_k
        if 't1' in tables and self.chance(0.2):
            self.emit(self.checksum('audit'), select=True)

    # -- data-changing steps -------------------------------------------------------

    def dml_t1_update(self, count):
        pred = self.range_pred('t1', count)
        x = self.ri(0, 5)
        if x == 0:
            s = f"t = t || printf('%.*c', {self.ri(20, 400)}, '{self.pick(LETTERS)}'), k = (k + {self.ri(1, 999)}) % 1000003"
        elif x == 1:
            s = f"t = substr(t, {self.ri(1, 5)}, {self.ri(5, 60)})"
        elif x == 2:
            s = f"grp = (grp * 7 + {self.ri(1, 9)}) % {self.t1p['g']}, r = r + 0.5"
        elif x == 3:
            s = "name = name || 'u'"
        elif x == 4:
            s = f"b = cast(substr(t, 1, {self.ri(10, 300)}) AS blob)"
        else:
            s = f"k = (k * 3 + {self.ri(1, 99)}) % 1000003, t = upper(t)"
        return f"UPDATE t1 SET {s} WHERE {pred};"

    def dml_t1_delete(self, count):
        x = self.ri(0, 2)
        if x == 0:
            return f"DELETE FROM t1 WHERE id > 10 AND {self.range_pred('t1', count)};"
        if x == 1:
            q = self.ri(9, 30)
            where = f"id > 10 AND k % {q} = {self.ri(0, q - 1)}"
            if not self.afford(1.5):
                a, b = self.t1_window()
                where += f" AND id BETWEEN {a} AND {b}"
            return f"DELETE FROM t1 WHERE {where};"
        return (f"DELETE FROM t1 WHERE id IN (SELECT id FROM {self.t1_src(2)} WHERE id > 10 "
                f"ORDER BY substr(t, {self.ri(2, 6)}), id LIMIT {count} OFFSET {self.ri(0, 500)});")

    def dml_t1_insert(self, count):
        lo = self.next_id['t1'] + 1
        x = self.ri(0, 2)
        if x == 0:
            self.next_id['t1'] += count
            return self.t1_fill(lo, lo + count - 1)
        # Copy existing rows to fresh ids (names built from the new id stay unique).
        a, b, m, r = self.id_range('t1', count)
        off = lo - a
        self.next_id['t1'] += b - a + 1
        where = f"id BETWEEN {a} AND {b}" + (f" AND id % {m} = {r}" if m > 1 else "")
        if x == 1:
            return (f"INSERT INTO t1 (id, k, grp, name, t, b, r) SELECT id + {off}, (k * 3 + 1) % 1000003, grp, "
                    f"CASE WHEN name IS NULL THEN NULL ELSE printf('n%07d', id + {off}) END, "
                    f"t || '+', b, r FROM t1 WHERE {where};")
        return (f"INSERT OR REPLACE INTO t1 SELECT id, k, grp, name, reverse_t, b, r FROM "
                f"(SELECT id, k, grp, name, substr(t, 2) || substr(t, 1, 1) AS reverse_t, b, r FROM t1 "
                f"WHERE {where} AND id > 10);")

    def dml_w(self, count):
        x = self.ri(0, 4)
        if x == 0:
            return f"UPDATE w SET pad = upper(pad) || '{self.pick(LETTERS)}', a = a + 1 WHERE {self.range_pred('w', count)};"
        if x == 1:
            return f"UPDATE w SET note = printf('%.*c', {self.ri(100, 400)}, 'n') WHERE {self.range_pred('w', count)};"
        if x == 2:
            return f"DELETE FROM w WHERE id > 10 AND {self.range_pred('w', count)};"
        if x == 3:
            lo = self.next_id['w'] + 1
            self.next_id['w'] += count
            return self.w_fill(lo, lo + count - 1)
        return (f"UPDATE w SET a = w.a + x.n FROM (SELECT grp, count(*) AS n FROM {self.t1_src(0.5)} GROUP BY grp) AS x "
                f"WHERE w.id % {self.t1p['g']} = x.grp AND w.id % {self.ri(1, 3)} = 0;")

    def dml_bl(self, count):
        count = max(20, count // 8)
        x = self.ri(0, 3)
        pred = self.range_pred('bl', count)
        if x == 0:
            return (f"UPDATE bl SET b = cast(printf('%.*c', {self.ri(500, 2000)} + (id * 37) % {self.ri(100, 4000)}, "
                    f"char(65 + id % 26)) || id AS blob) WHERE {pred};")
        if x == 1:
            return f"UPDATE bl SET b = zeroblob({self.ri(0, 3000)} + id % 1000), tag = tag || 'z' WHERE {pred};"
        if x == 2:
            return f"DELETE FROM bl WHERE id > 10 AND {pred};"
        lo = self.next_id['bl'] + 1
        self.next_id['bl'] += count
        return self.bl_fill(lo, lo + count - 1)

    def dml_t2(self, count):
        x = self.ri(0, 2)
        if x == 0:
            return (f"INSERT INTO t2 (g, s, v) SELECT grp % 211, coalesce(substr(name, {self.ri(2, 5)}, 3), 'z'), k "
                    f"FROM t1 WHERE {self.range_pred('t1', count)} AND true "
                    f"ON CONFLICT (g, s) DO UPDATE SET v = v + excluded.v % 100;")
        if x == 1:
            g = self.ri(0, 200)
            return f"DELETE FROM t2 WHERE g BETWEEN {g} AND {g + self.ri(3, 40)};"
        return f"UPDATE t2 SET v = v * 2 + 1, s = s || '.' WHERE g % {self.ri(3, 9)} = {self.ri(0, 2)};"

    def dml_pc(self, count):
        x = self.ri(0, 2)
        if x == 0:
            lo = self.next_id['c'] + 1
            n = max(50, count // 2)
            self.next_id['c'] += n
            return self.c_fill(lo, lo + n - 1)
        if x == 1:
            hi = self.ri(11, self.np)
            cond = f"id > 10 AND id BETWEEN {max(11, hi - 20)} AND {hi}"
            if not self.cascade:
                cond += " AND NOT EXISTS (SELECT 1 FROM c WHERE c.pid = p.id)"
            return f"DELETE FROM p WHERE {cond};"
        return f"DELETE FROM c WHERE id > 10 AND {self.range_pred('c', count // 2)};"

    def random_dml(self, count=None):
        """One data-changing statement and the tables it changes."""
        if count is None:
            count = self.ri(100, 3000) if self.full else self.ri(50, 800)
        x = self.ri(0, 9)
        if x <= 1:
            return self.dml_t1_update(count), ['t1']
        if x == 2:
            return self.dml_t1_delete(count // 3), ['t1', 'audit']
        if x == 3:
            return self.dml_t1_insert(count), ['t1']
        if x <= 5:
            return self.dml_w(count), ['w']
        if x == 6:
            return self.dml_bl(count), ['bl']
        if x == 7:
            return self.dml_t2(count), ['t2']
        return self.dml_pc(count), ['p', 'c']

    # -- steps -------------------------------------------------------------------------

    def step_crash_pattern(self):
        """A few thousand rows of a few hundred bytes, then one UPDATE or DELETE touching
        several hundred of them (what used to crash the image)."""
        n = self.ri(300, 900)
        if self.chance(0.5):
            a = self.ri(11, max(11, self.next_id['w'] - n))
            self.emit(f"UPDATE w SET pad = pad || printf('%.*c', {self.ri(50, 300)}, '#'), a = a + 2 "
                      f"WHERE id BETWEEN {a} AND {a + n};")
        else:
            m = self.ri(3, 8)
            self.emit(f"DELETE FROM w WHERE id > 10 AND id % {m} = {self.ri(0, m - 1)};")
        if self.chance(0.5):
            self.emit("SELECT changes();", select=True)
        self.checksums(['w'])

    def step_dml(self):
        for _ in range(self.ri(1, 3)):
            sql, tables = self.random_dml()
            self.emit(sql)
            if self.chance(0.3):
                self.emit("SELECT changes(), total_changes() > 0;", select=True)
        self.checksums(tables)

    def step_big_update(self):
        self.emit(self.dml_t1_update(self.ri(500, 4000) if self.full else self.ri(200, 1000)))
        self.checksums(['t1'])

    def step_big_delete(self):
        self.emit(self.dml_t1_delete(self.ri(300, 3000) if self.full else self.ri(100, 600)))
        self.emit("SELECT changes();", select=True)
        self.checksums(['t1', 'audit'])

    def step_insert_select(self):
        self.emit(self.dml_t1_insert(self.ri(500, 5000) if self.full else self.ri(200, 1000)))
        self.checksums(['t1'])

    def failing_statement(self):
        """A statement that fails at run time without ending a transaction."""
        x = self.ri(0, 9)
        if x == 0:
            return f"INSERT INTO t1 SELECT * FROM t1 WHERE id = {self.ri(1, 10)};"
        if x == 1:
            a = self.ri(1, 9)
            return f"UPDATE t1 SET name = 'dup' WHERE id IN ({a}, {a + 1});"
        if x == 2:
            return f"INSERT INTO t1 (id, k, name) VALUES (NULL, NULL, 'nn{self.ri(0, 99)}');"
        if x == 3:
            return f"UPDATE t1 SET k = -{self.ri(1, 99)} WHERE id = {self.ri(1, 10)};"
        if x == 4:
            return self.late_failure('notnull')
        if x == 5:
            return self.late_failure('check')
        if x == 6:
            return f"UPDATE w SET a = -1 WHERE id = {self.ri(1, 10)};"
        if x == 7 and not self.deferred:
            return f"INSERT INTO c (pid, v) VALUES (-{self.ri(1, 999)}, 'orphan');"
        if x == 8 and not self.deferred:
            return f"UPDATE c SET pid = pid + 10000000 WHERE id = {self.ri(1, 10)};"
        if x == 9 and not self.cascade and not self.deferred:
            return f"DELETE FROM p WHERE id = {self.ri(1, 10)};"
        return f"INSERT INTO bl (id, tag, b) VALUES ({self.ri(1, 10)}, 'again', x'00');"

    def late_failure(self, kind):
        """An UPDATE that fails on the last row of t1: every row before it has gone to
        the statement journal (a temporary file) and must be rolled back."""
        tail = self.t1_tail_pred(4)
        if kind == 'notnull':
            return ("UPDATE t1 SET t = t || 'x', k = CASE WHEN id = (SELECT max(id) FROM t1) THEN NULL ELSE k END "
                    f"WHERE true{tail};")
        return ("UPDATE t1 SET k = k - CASE WHEN id = (SELECT max(id) FROM t1) THEN 2000000 ELSE 0 END, "
                f"grp = grp + 1 WHERE (id % 2 = 1{tail}) OR id = (SELECT max(id) FROM t1);")

    def txn_body(self, depth, stack):
        """Statements inside a transaction: changes, nested savepoints, checksums."""
        for _ in range(self.ri(1, 3)):
            x = self.ri(0, 9)
            if x <= 4:
                count = self.ri(50, 1500) if self.full else self.ri(30, 400)
                sql, tables = self.random_dml(count)
                self.emit(sql)
                if self.chance(0.5):
                    self.checksums(tables)
            elif x <= 6 and depth < 3:
                self.sp_serial += 1
                name = f"sp{self.sp_serial}"
                self.emit(f"{self.kw('SAVEPOINT')} {name};")
                stack.append(name)
                self.txn_body(depth + 1, stack)
                y = self.ri(0, 2)
                if y == 0:
                    self.emit(f"{self.kw('RELEASE')} {self.pick(['', 'SAVEPOINT '])}{name};")
                    stack.pop()
                elif y == 1:
                    self.emit(f"ROLLBACK {self.pick(['', 'TRANSACTION '])}TO {self.pick(['', 'SAVEPOINT '])}{name};")
                    self.checksums(['t1'] if self.chance(0.5) else ['w'])
                    self.emit(f"RELEASE {name};")
                    stack.pop()
                else:
                    # Rolled back to and kept open: the enclosing COMMIT/ROLLBACK ends it.
                    self.emit(f"ROLLBACK TO {name};")
            elif x == 7:
                self.fail(self.failing_statement())
            elif x == 8:
                self.fail(self.pick(["VACUUM;", "BEGIN;", "BEGIN IMMEDIATE;"]))
            else:
                self.checksums([self.pick(['t1', 'w', 'bl', 't2'])])

    def step_transaction(self, end=None):
        self.emit(self.pick(["BEGIN;", "BEGIN;", "BEGIN TRANSACTION;", "BEGIN DEFERRED;",
                             "BEGIN IMMEDIATE;", "BEGIN EXCLUSIVE;", "begin;"]))
        stack = []
        self.txn_body(0, stack)
        if self.chance(0.5):
            self.fail(self.failing_statement())
            self.checksums(['t1'])
        if end is None:
            end = self.pick(['COMMIT', 'ROLLBACK'])
        if end == 'COMMIT':
            self.emit(self.pick(["COMMIT;", "COMMIT;", "END;", "END TRANSACTION;", "COMMIT TRANSACTION;"]))
        else:
            self.emit(self.pick(["ROLLBACK;", "ROLLBACK;", "ROLLBACK TRANSACTION;"]))
        self.checksums(['t1', 'w', 'bl', 't2', 'c'])

    def step_savepoints(self):
        """Savepoints opened outside a transaction: the outermost one starts it."""
        self.sp_serial += 1
        outer = f"outer{self.sp_serial}"
        self.emit(f"SAVEPOINT {outer};")
        stack = [outer]
        self.txn_body(1, stack)
        self.sp_serial += 1
        inner = f"inner{self.sp_serial}"
        self.emit(f"SAVEPOINT {inner};")
        sql, tables = self.random_dml()
        self.emit(sql)
        self.checksums(tables)
        self.emit(f"ROLLBACK TO {inner};")
        self.checksums(tables)
        self.emit(f"RELEASE {inner};")
        if self.chance(0.3):
            self.fail(f"RELEASE no_such_sp{self.sp_serial};")
        x = self.ri(0, 2)
        if x == 0:
            self.emit(f"RELEASE {outer};")
        elif x == 1:
            self.emit(f"ROLLBACK TO {outer};")
            self.emit(f"RELEASE {outer};")
        else:
            self.emit("ROLLBACK;")
        self.checksums(['t1', 'w', 'bl', 't2'])

    def step_deferred_fk(self):
        self.emit("BEGIN;")
        self.emit(f"INSERT INTO c (id, pid, v) VALUES ({self.next_id['c'] + 1}, -{self.ri(1, 99)}, 'late orphan');")
        self.next_id['c'] += 1
        if self.chance(0.4):
            self.emit(f"DELETE FROM c WHERE id = {self.next_id['c']};")
            self.emit("COMMIT;")
        else:
            self.fail("COMMIT;")
            self.emit("ROLLBACK;")
        self.checksums(['c'])

    def step_rollback_txn(self):
        """INSERT OR ROLLBACK ends the transaction: the COMMIT after it fails."""
        self.emit("BEGIN;")
        sql, tables = self.random_dml()
        self.emit(sql)
        self.fail(f"INSERT OR ROLLBACK INTO t1 SELECT * FROM t1 WHERE id = {self.ri(1, 10)};")
        self.fail("COMMIT;")
        self.checksums(tables)

    def step_vacuum(self):
        self.emit(self.pick(["VACUUM;", "VACUUM;", "VACUUM main;", "vacuum;"]))
        self.charge(2)
        self.checksums(['t1', 'w', 'bl'])
        if self.chance(0.3) and self.afford(4.5):
            self.emit("PRAGMA integrity_check;", select=True)

    def step_temp_table(self):
        self.temp_serial += 1
        name = f"tmp{self.temp_serial}"
        m = self.ri(2, 4)
        self.emit(f"CREATE {self.pick(['TEMP', 'TEMPORARY', 'temp'])} TABLE {name} AS "
                  f"SELECT id, k, t || '!' AS t2, grp, b FROM {self.t1_src(2.5)} WHERE id % {m} = {self.ri(0, m - 1)};")
        self.emit(f"CREATE INDEX {name}_k ON {name}(k, t2);")
        self.emit(f"SELECT count(*), total(k), sum(length(t2)), total(length(b)) FROM {name};", select=True)
        self.emit(f"UPDATE {name} SET k = k + 1, t2 = t2 || printf('%.*c', {self.ri(10, 200)}, 't') "
                  f"WHERE id % {self.ri(2, 5)} = 0;")
        self.emit(f"DELETE FROM {name} WHERE grp < {self.ri(1, 20)};")
        self.emit(f"SELECT count(*), total(k), sum(length(t2)) FROM {name};", select=True)
        self.emit(f"SELECT id, k, substr(t2, 1, 16) FROM {name} ORDER BY t2 DESC, id "
                  f"LIMIT 3 OFFSET {self.ri(0, 300)};", select=True)
        if self.chance(0.5):
            # Fresh ids above every id of t1: the temp table has at most top / m + 1 rows.
            off = self.next_id['t1']
            self.next_id['t1'] += self.next_id['t1'] // m + 2
            self.emit(f"INSERT INTO t1 (id, k, grp, name, t, b, r) SELECT {off} + row_number() OVER (ORDER BY id), "
                      f"k % 1000003, grp, NULL, substr(t2, 1, 100), b, 0.5 FROM {name} WHERE id % 3 = 0;")
            self.checksums(['t1'])
        if self.chance(0.8):
            self.emit(f"DROP TABLE {name};")

    def sort_query(self, x=None):
        """A sort larger than the page cache, on an unindexed expression; prints only
        aggregates of the sorted order or a LIMIT/OFFSET window of it."""
        t = 't1' if x is not None else self.pick(['t1', 't1', 't1', 'w', 'bl'])
        if x is None:
            x = self.ri(0, 9)
        if t == 'w':
            return (f"SELECT id, a, substr(pad, 1, 10), length(pad) FROM w ORDER BY substr(pad, {self.ri(2, 50)}, 8) DESC, "
                    f"a, id LIMIT {self.ri(2, 5)} OFFSET {self.ri(0, 1000)};")
        if t == 'bl':
            return (f"SELECT count(*), total(length(b)), min(id), max(id) FROM "
                    f"(SELECT id, b FROM bl ORDER BY hex(substr(b, {self.ri(1, 40)}, 6)), id LIMIT 100000 OFFSET {self.ri(1, 20)});")
        src = self.t1_src([2, 4, 3, 2, 2, 7, 9, 3, 3, 0][x])
        if x == 0:
            return (f"SELECT id, k, substr(t, 1, 14), length(t) FROM {src} ORDER BY substr(t, {self.ri(2, 9)}, 6) DESC, "
                    f"k, id LIMIT {self.ri(2, 5)} OFFSET {self.ri(0, 2000)};")
        if x == 1:
            return (f"SELECT count(*), sum(rn * (id % 1009)) % 1000000007, min(id), max(id) FROM "
                    f"(SELECT id, row_number() OVER (ORDER BY length(t), k % {self.ri(100, 2000)}, id) AS rn FROM {src});")
        if x == 2:
            return (f"SELECT count(*), sum(c), max(c), sum(c * g) % 1000000007 FROM "
                    f"(SELECT k % {self.ri(300, 5000)} AS g, count(*) AS c FROM {src} GROUP BY g);")
        if x == 3:
            return f"SELECT count(DISTINCT substr(t, {self.ri(1, 8)}, 7) || (k % {self.ri(10, 90)})) FROM {src};"
        if x == 4:
            return f"SELECT count(*), total(v) FROM (SELECT DISTINCT k % {self.ri(1000, 9000)} AS v, grp FROM {src});"
        if x == 5:
            return (f"SELECT sum(s) % 1000000007, max(s) FROM (SELECT sum(length(t)) OVER (PARTITION BY grp ORDER BY k, id "
                    f"ROWS BETWEEN {self.ri(1, 5)} PRECEDING AND CURRENT ROW) AS s FROM {src});")
        if x == 6:
            return (f"SELECT id, rnk, ntl, lg FROM (SELECT id, rank() OVER (ORDER BY k % 101) AS rnk, "
                    f"ntile({self.ri(3, 9)}) OVER (ORDER BY t, id) AS ntl, lag(id, 2) OVER (ORDER BY r, id) AS lg FROM {src}) "
                    f"ORDER BY id LIMIT 4 OFFSET {self.ri(0, 2000)};")
        if x == 7:
            return (f"SELECT group_concat(id, ',') FROM (SELECT id FROM {src} ORDER BY t DESC, id "
                    f"LIMIT 12 OFFSET {self.ri(0, 3000)});")
        if x == 8:
            return f"SELECT count(*) FROM (SELECT k % 10007 FROM {src} UNION SELECT v % 10007 FROM t2);"
        return (f"SELECT count(*), sum(a.id * b.id % 997) FROM w AS a JOIN w AS b ON a.a = b.a + 1 "
                f"WHERE a.id % {self.ri(3, 10)} = 0;")

    def step_sorts(self, kinds=None):
        if kinds is None:
            kinds = [None] * self.ri(1, 3)
        for x in kinds:
            self.emit(self.sort_query(x), select=True)

    def step_blobs(self):
        sql, tables = self.dml_bl(self.ri(100, 1000)), ['bl']
        self.emit(sql)
        self.emit(f"SELECT id, length(b), hex(substr(b, 1, 10)), hex(substr(b, -6)) FROM bl "
                  f"WHERE id >= {self.ri(1, max(1, self.next_id['bl'] - 10))} ORDER BY id LIMIT 3;", select=True)
        self.emit("SELECT count(*), sum(length(b)), max(length(b)), hex(max(substr(b, 1, 4))) FROM bl;", select=True)
        self.checksums(tables)

    def step_index(self):
        x = self.ri(0, 3)
        if not self.afford(3):
            x = 4
        if x == 0 and not self.extra_indexes:
            name = f"t1_x{self.ri(1, 99)}"
            self.emit(f"CREATE INDEX {name} ON t1(substr(t, 2, 5), grp);")
            self.extra_indexes.append(name)
            self.emit(f"SELECT count(*) FROM t1 WHERE substr(t, 2, 5) > 'm';", select=True)
        elif x == 1 and self.extra_indexes:
            self.emit(f"DROP INDEX {self.extra_indexes.pop()};")
        elif x == 2:
            self.emit(self.pick(["REINDEX t1;", "REINDEX;", "REINDEX t1_k;"]))
        elif x == 3:
            self.fail(f"CREATE UNIQUE INDEX t1_grp_u ON t1(grp{self.pick(['', ' DESC'])});")
        else:
            self.emit(self.pick(["REINDEX w_a;", "REINDEX bl;", "CREATE INDEX IF NOT EXISTS w_note ON w(note);"]))
        if self.afford(4.5):
            self.emit("PRAGMA integrity_check(t1);", select=True)
        else:
            self.emit(f"PRAGMA integrity_check({self.pick(['w', 'bl', 'c', 't2'])});", select=True)

    def step_alter(self):
        if self.have_extra_column:
            self.emit(f"UPDATE w SET extra = printf('%.*c', {self.ri(5, 150)}, 'e') WHERE id % {self.ri(2, 6)} = 1;")
        else:
            self.emit("ALTER TABLE w ADD COLUMN extra TEXT DEFAULT 'dflt';")
            self.have_extra_column = True
        self.checksums(['w'])

    def step_analyze(self):
        self.emit("ANALYZE;" if self.afford(3) else self.pick(["ANALYZE w;", "ANALYZE bl;", "ANALYZE t2;"]))
        self.emit("SELECT count(*), min(tbl) FROM sqlite_stat1;", select=True)

    # -- failures ----------------------------------------------------------------------

    def step_constraint_failures(self):
        kinds = ['unique', 'notnull', 'check', 'fk']
        self.rng.shuffle(kinds)
        for kind in kinds[:self.ri(1, 4)]:
            self.constraint_failure(kind)

    def constraint_failure(self, kind):
        if kind == 'unique':
            self.fail(self.pick([
                f"INSERT INTO t1 SELECT * FROM t1 WHERE id = {self.ri(1, 10)};",
                f"UPDATE t1 SET name = 'dup' WHERE id IN ({self.ri(1, 5)}, {self.ri(6, 10)});",
                f"UPDATE OR FAIL t1 SET name = 'dup' WHERE id IN ({self.ri(1, 5)}, {self.ri(6, 10)});",
                f"INSERT INTO p (id, name) VALUES ({self.next_id['p'] + 1000}, 'parent {self.ri(1, 10)}');",
            ]))
            self.checksums(['t1'])
        elif kind == 'notnull':
            self.fail(self.pick([
                f"INSERT INTO t1 (id, k, name) VALUES (NULL, NULL, 'nn{self.ri(0, 99)}');",
                self.late_failure('notnull'),
                f"INSERT INTO bl (tag, b) VALUES ('nb', NULL);",
                f"INSERT INTO t2 (g, s, v) VALUES ({self.ri(1, 9)}, NULL, 1);",
            ]))
            self.checksums(['t1'])
        elif kind == 'check':
            self.fail(self.pick([
                f"UPDATE t1 SET k = -{self.ri(1, 99)} WHERE id = {self.ri(1, 10)};",
                self.late_failure('check'),
                f"INSERT INTO t1 (k, name) VALUES (-5, 'neg{self.ri(0, 99)}');",
            ]))
            self.checksums(['t1'])
        else:
            if self.deferred:
                self.fail(self.pick([
                    f"INSERT INTO c (pid, v) VALUES (-{self.ri(1, 999)}, 'orphan');",
                    f"UPDATE c SET pid = pid + 10000000 WHERE id = {self.ri(1, 10)};",
                ]))
                self.step_deferred_fk()
            else:
                options = [f"INSERT INTO c (pid, v) VALUES (-{self.ri(1, 999)}, 'orphan');",
                           f"UPDATE c SET pid = pid + 10000000 WHERE id = {self.ri(1, 10)};",
                           f"UPDATE p SET id = id + 10000000 WHERE id = {self.ri(1, 10)};"]
                if not self.cascade:
                    options.append(f"DELETE FROM p WHERE id = {self.ri(1, 10)};")
                self.fail(self.pick(options))
            self.checksums(['c'])

    def step_fail_in_txn(self):
        self.emit("BEGIN;")
        sql, tables = self.random_dml()
        self.emit(sql)
        self.fail(self.failing_statement())
        self.checksums(tables)
        self.emit(self.pick(["COMMIT;", "ROLLBACK;"]))
        self.checksums(tables)

    def parse_error(self, form):
        """A statement that fails to prepare. form: 'mid' (the error in the middle of
        the statement), 'long' (one line over 80 characters), 'multi' (over several
        lines), 'early' (before column 25), 'missing table', 'missing column', 'missing'
        (either)."""
        n = self.ri(1, 500)
        # Errors before column 25 of the statement: the marker "^--- error here".
        early = [
            f"SELECT id FROM t1 WHER id < {n};",
            f"SELECT count(*) FORM t1 WHERE k > {n};",
            f"SELECT id FROM t1 ORDR BY id LIMIT 1;",
            f"SELECT id, , k FROM t1 LIMIT 2;",
            f"SELECT (1 + 2)) FROM t1 LIMIT 1;",
            f"INSERT INTO w (id, a) VALUSE ({n}, 1);",
            f"DELETE t1 WHERE id = {n};",
            f"UPDTE t1 SET k = 0 WHERE id = {n};",
            f"SELECT 1 + ;",
            f"CREATE TABEL x{n} (a);",
            f"SELECT 1 FROM t1 WHERE id = (SELECT id, k FROM t1);",
            f"SELECT substr() FROM t1;",
        ]
        mid = early + [
            f"SELECT count(*) FROM t1 GROUP id;",
            f"UPDATE t1 SET k = k + 1 WHERE id < {n} );",
            f"SELECT id FROM t1 WHERE id = {n} {n};",
            f"SELECT id FROM t1 LIMIT 1 WHERE id > 3;",
            f"SELECT id FROM w WHERE a IN (1, 2,, 3);",
            f"SELECT count(*) FROM t1 ORDER BY {self.ri(3, 9)};",
            f"SELECT id, k, grp, name FROM t1 WHERE grp = {n} ORDER BY k, id LIMT 4;",
        ]
        if form in ('mid', 'early'):
            return Stmt(self.pick(early if form == 'early' else mid), fails=True)
        if form == 'long':
            # One line over 80 characters; the columns before the error vary in length, so
            # that it falls before column 25 (marker "^--- error here"), between 25 and 50
            # ("error here ---^") or beyond 50 (the context is shifted), sometimes after
            # UTF-8 text or tabs.
            cols = ['id', 'k', 'grp', 'name', 'length(t)', "'h\u00e9llo w\u00f6rld'", "'\u4e2d\u6587\u2713\u2713'",
                    'r * 2', 'substr(t, 1, 5)', 'hex(b)', "coalesce(name, '-')", 'k % 7']
            sep = self.pick([', ', ', ', ',\t'])
            what = sep.join(self.rng.sample(cols, self.ri(1, 7)))
            cond = "k < 1000000 AND grp >= 0 AND name IS NOT NULL AND length(t) > 0"
            text = self.pick([
                f"SELECT {what} FROM t1 WHER id > {n} AND {cond} LIMIT 3;",
                f"SELECT {what} FROM t1 WHERE id > {n} AND AND {cond} LIMIT 3;",
                f"SELECT {what} FROM t1 WHERE id > {n} AND {cond} ORDR BY id, k LIMIT 3;",
                f"SELECT {what}, nosuchcol FROM t1 WHERE id > {n} AND {cond} LIMIT 3;",
                f"UPDATE t1 SET k = k + 1, grp = grp WHERE id BETWEEN {n} AND {n // 2} AND AND {cond};",
            ])
            return Stmt(text, fails=True, layout='line')
        if form == 'multi':
            text = self.pick([
                f"SELECT id, k, grp FROM t1 WHERE k > {n} AND grp < 5 ORDR BY id LIMIT 2;",
                f"UPDATE w SET a = a + 1, note = 'x' WHERE id BETWEEN {n} AND {n + 5} AND AND a > 0;",
                f"INSERT INTO t2 (g, s, v) SELECT grp, name, k FROM t1 WHERE id < {n} LIMT 5;",
                f"SELECT count(*) FROM t1 JOIN w ON w.id = t1.id WHERE t1.k > {n} GROUP BY BY t1.grp;",
                f"DELETE FROM bl WHERE id IN (SELECT id FROM bl WHERE length(b) > {n} ORDER BY id LIMT 3);",
            ])
            return Stmt(text, fails=True, layout='multi')
        if form == 'missing table' or (form == 'missing' and self.chance(0.5)):
            return Stmt(self.pick([
                f"SELECT count(*) FROM t1_missing;",
                f"INSERT INTO nosuch SELECT * FROM t1;",
                f"DELETE FROM gone WHERE id = {n};",
                f"DROP TABLE nosuch_{n};",
                f"SELECT count(*) FROM tmp{self.temp_serial + 1};",
                f"UPDATE t1 SET k = 0 WHERE id IN (SELECT id FROM ghost);",
            ]), fails=True)
        return Stmt(self.pick([
            f"UPDATE t1 SET nocol = 1 WHERE id = {n};",
            f"SELECT id, knot FROM t1 ORDER BY id LIMIT 1;",
            f"SELECT t1.zz, w.a FROM t1, w WHERE t1.id = w.id LIMIT 1;",
            f"CREATE INDEX ix_bad ON t1(nocol);",
            f"SELECT count(*) FROM w WHERE pad = 'x' AND nope > {n};",
            f"INSERT INTO w (id, a, nothere) VALUES ({n}, 1, 2);",
        ]), fails=True)

    def step_parse_errors(self, forms=None):
        if forms is None:
            forms = [self.pick(['mid', 'long', 'multi', 'missing'])]
        for form in forms:
            if self.chance(0.3):
                self.emit(f"SELECT {self.ri(1, 99)};", select=True)
            st = self.parse_error(form)
            self.step.append(st)
            if self.chance(0.4):
                self.emit(f"SELECT 'after the error {self.ri(1, 99)}';", select=True)

    def step_runtime_errors(self):
        self.fail(self.pick([
            "SELECT sum(x) FROM (SELECT 9223372036854775807 AS x UNION ALL SELECT 1);",
            "SELECT abs(-9223372036854775807 - 1);",
            "SELECT json('{\"a\": [1, 2');",
            "SELECT id, json_extract('{bad', '$.a') FROM t1 ORDER BY id LIMIT 2;",
            "COMMIT;",
            "ROLLBACK;",
            f"RELEASE nosp{self.ri(1, 9)};",
            "CREATE TABLE t1 (x);",
            "CREATE INDEX t1_k ON t1(k);",
            f"UPDATE w SET a = -1 WHERE id = {self.ri(1, 10)};",
        ]))

    # -- the script ------------------------------------------------------------------

    def generate(self):
        r = self.rng
        self.setup()
        # Every script has each of these, in a random order among random extra steps.
        required = [
            self.step_crash_pattern, self.step_crash_pattern, self.step_big_update, self.step_big_delete,
            self.step_insert_select, lambda: self.step_transaction('COMMIT'),
            # ORDER BY ... LIMIT/OFFSET, a window function, GROUP BY, DISTINCT:
            lambda: self.step_sorts([0, self.pick([1, 5, 6])]), lambda: self.step_sorts([2, self.pick([3, 4])]),
            lambda: self.step_transaction('ROLLBACK'), self.step_savepoints, self.step_vacuum,
            self.step_temp_table, self.step_sorts, self.step_sorts, self.step_blobs,
            lambda: self.constraint_failure('unique'), lambda: self.constraint_failure('notnull'),
            lambda: self.constraint_failure('check'), lambda: self.constraint_failure('fk'),
            lambda: self.step_parse_errors(['early', 'early']), lambda: self.step_parse_errors(['long']),
            lambda: self.step_parse_errors(['multi']), lambda: self.step_parse_errors(['missing table']),
            lambda: self.step_parse_errors(['missing column']),
            self.step_fail_in_txn,
        ]
        extra_pool = [
            (self.step_dml, 8), (self.step_transaction, 3), (self.step_savepoints, 2), (self.step_sorts, 3),
            (self.step_crash_pattern, 2), (self.step_blobs, 2), (self.step_temp_table, 1),
            (self.step_vacuum, 1), (self.step_index, 2), (self.step_alter, 1), (self.step_analyze, 1),
            (self.step_constraint_failures, 2), (self.step_parse_errors, 2), (self.step_runtime_errors, 2),
            (self.step_rollback_txn, 1), (self.step_big_update, 1), (self.step_insert_select, 1),
        ]
        funcs = [f for f, w in extra_pool for _ in range(w)]
        steps = list(required) + [r.choice(funcs) for _ in range(self.ri(10, 20) if self.full else self.ri(3, 8))]
        r.shuffle(steps)
        for s in steps:
            s()
            self.end_step()
        # Never on a line after a failing statement (which would skip them).
        self.emit("PRAGMA integrity_check;")
        self.checksums(['t1', 'w', 'bl', 'p', 'c', 't2', 'audit'], everything=True)
        self.emit(f"SELECT 'end of seed {self.seed}';")
        self.end_step()

        rend = Renderer(r)
        rend.lines.append(f"-- sqlgen.py seed {self.seed}, {'full' if self.full else 'small'} scale")
        for step in self.out:
            for st in step:
                rend.add(st)
        return rend.text(), rend.expected


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('seed', type=int)
    ap.add_argument('--scale', choices=['small', 'full'], default='full')
    ap.add_argument('--errors', action='store_true',
                    help='print the line numbers of the statements that must fail instead of the script')
    args = ap.parse_args()
    text, expected = Gen(args.seed, args.scale).generate()
    out = sys.stdout
    if args.errors:
        out.write(''.join(f"{n}\n" for n in expected))
    else:
        sys.stdout.buffer.write(text.encode('utf-8'))


if __name__ == '__main__':
    main()
