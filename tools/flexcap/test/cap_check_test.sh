#!/usr/bin/env bash
# flexcap cap check on the reference vectors, on a corrupted copy, and on a missing file.
set -u
flexcap=$1 vectors=$2
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$flexcap" cap check "$vectors" >"$tmp/out" || fail "the reference vectors should all match: $(tail -5 "$tmp/out")"
grep -qx '20813 of 20813 lines match' "$tmp/out" || fail "unexpected summary: $(cat "$tmp/out")"

# Flip the result of line 3 (a decode): exactly that line must be reported.
awk 'NR == 3 { sub(/ 0$/, " 1") } { print }' "$vectors" >"$tmp/bad.txt"
"$flexcap" cap check "$tmp/bad.txt" >"$tmp/out"
[[ $? == 1 ]] || fail "a corrupted file should exit 1"
grep -q '^line 3: mismatch' "$tmp/out" || fail "line 3 not reported: $(head "$tmp/out")"
grep -q '20812 of 20813 lines match, 1 mismatch' "$tmp/out" || fail "wrong summary: $(tail -1 "$tmp/out")"

"$flexcap" cap check "$tmp/none.txt" >"$tmp/out" 2>"$tmp/err"
[[ $? == 2 ]] || fail "a missing file should exit 2"
grep -q "cannot open" "$tmp/err" || fail "no message for a missing file"
echo "cap check: ok"
