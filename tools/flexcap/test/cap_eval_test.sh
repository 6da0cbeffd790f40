#!/usr/bin/env bash
# flexcap cap eval, driven as a user drives it: stdin in, stdout/stderr/exit status out.
set -u
flexcap=$1
fail() { echo "FAIL: $*"; exit 1; }
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# Good lines only: exit 0, one result per line, in the vectors' format.
printf 'crrl fff00000\ndecode 0 0 0 => ignored\n' | "$flexcap" cap eval >"$out" 2>"$err"
[[ $? == 0 ]] || fail "good input should exit 0"
diff <(printf 'crrl fff00000 => 100000000\ndecode 0 0 0 => 0 10000000000000000 3f 1 1 0 0\n') "$out" ||
  fail "wrong results for good input"
[[ ! -s $err ]] || fail "good input printed errors: $(cat "$err")"

# Bad lines are reported with their number; the other lines are still evaluated.
printf 'crrl 1\ndecode 1 2\n\nfrobnicate 3\ncram 0\n' | "$flexcap" cap eval >"$out" 2>"$err"
[[ $? == 1 ]] || fail "bad input should exit 1"
diff <(printf 'crrl 1 => 1\ncram 0 => ffffffffffffffff\n') "$out" || fail "good lines around bad ones were not evaluated"
grep -q 'line 2: decode takes 3 arguments' "$err" || fail "no error for line 2: $(cat "$err")"
grep -q "line 4: unknown operation 'frobnicate'" "$err" || fail "no error for line 4: $(cat "$err")"
[[ $(wc -l <"$err") == 2 ]] || fail "the blank line 3 is not an error: $(cat "$err")"
echo "cap eval: ok"
