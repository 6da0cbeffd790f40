#!/usr/bin/env bash
# A full file system: the image's ramfs has a 1 MiB heap (full/small-fs.yaml) and the
# script inserts 5 MB. The statement fails with SQLite's own "database or disk is full",
# as sqlite3 reports it; the rows committed before stay, and the next statements run.
set -u
image=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$image" "$data/fill.sql" >"$tmp/out" 2>"$tmp/err"
status=$?
fail() { echo "FAIL: $*"; exit 1; }
[[ $status == 1 ]] || fail "exit status $status, expected 1 (one statement failed): $(cat "$tmp/err")"
cmp -s "$data/fill.expected" "$tmp/out" || fail "stdout: $(diff "$data/fill.expected" "$tmp/out")"
cmp -s "$data/fill.expected.err" "$tmp/err" || fail "stderr: $(diff "$data/fill.expected.err" "$tmp/err")"
echo "full file system: SQLITE_FULL, earlier rows kept, later statements ran"
