#!/usr/bin/env bash
# `flexcap check redis --reference-cache DIR`: check_reference_cache_test.sh FLEXCAP
# The first check runs Debian's redis-server and keeps its outcomes in DIR; the next one
# compares the image against the kept outcomes (an outcome edited in the kept log shows
# up as a difference, so the kept log is what is compared); a kept run made by another
# redis-server version is not reused.
set -euo pipefail
flexcap=$1
units=unit/type/incr
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=$work/reference
fail() { echo "FAIL: $*" >&2; cat "$work"/out "$work"/err >&2 2>/dev/null; exit 1; }
check() { "$flexcap" check redis --config fcalls --units "$units" --reference-cache "$cache" >"$work/out" 2>"$work/err"; }

check || fail "the first check found differences or did not run"
grep -q "reused" "$work/err" && fail "the first check reused a reference it had no cache for"
[[ -s $cache/runtest.log ]] || fail "no runtest.log kept in $cache"
grep -q "^Redis server v=" "$cache/key" || fail "the kept key does not name redis-server's version"

# The kept log says the reference failed one test: the next check must report it.
test_name="INCR against non existing key"
grep -q "ok.*]: $test_name (" "$cache/runtest.log" || fail "the kept log lacks '$test_name'"
sed -i "s/\[\(.*\)ok\(.*\)\]: $test_name (.*/[err]: $test_name in tests\/unit\/type\/incr.tcl/" "$cache/runtest.log"
if check; then fail "a difference in the kept reference went unreported"; fi
grep -q "reused from $cache" "$work/err" || fail "the second check did not say it reused $cache"
grep -q "unit/type/incr: $test_name: err -> ok" "$work/out" || fail "the difference is not the edited test"

# Another redis-server version: the reference runs again and the cache is rewritten.
sed -i '1s/.*/Redis server v=0.0.0/' "$cache/key"
check || fail "the check with a stale cache found differences"
grep -q "reused" "$work/err" && fail "a cache kept for another redis-server version was reused"
grep -q "^Redis server v=7" "$cache/key" || fail "the stale cache was not rewritten"
echo "PASS"
