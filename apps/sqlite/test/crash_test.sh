#!/usr/bin/env bash
# The injected-crash image (service/crash_test.cc), judged from outside: it must exit 0
# by itself (not by a signal, not by an abort), print nothing on standard error, and
# report each step it checked.
set -u
image=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$image" >"$tmp/out" 2>"$tmp/err"
status=$?
cat "$tmp/out"
fail() { echo "FAIL: $*"; cat "$tmp/err"; exit 1; }
((status < 128)) || fail "the image died of signal $((status - 128))"
[[ $status == 0 ]] || fail "the image exited with status $status"
[[ ! -s $tmp/err ]] || fail "the image wrote to standard error"
for expected in "crash contained: gate to sqlite_service.crash: fault in compartment 'sqlite'" \
                "after restart: 100 rows, 0 from the uncommitted transaction" \
                'file system faulted: the statement failed with SQLITE_IOERR' \
                "SQLite's compartment still runs statements: 41 + 1 = 42" "ok"; do
  grep -qF -- "$expected" "$tmp/out" || fail "missing: $expected"
done
