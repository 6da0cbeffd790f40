#!/usr/bin/env bash
# SQLite's speedtest1 compiled purecap computes what it computes compiled plain: every
# test runs (exit status 0, no capability fault) and the verification hash of all results
# (`--verify`) is the same.
#   purecap_speedtest1_test.sh DIR   (DIR: speedtest1 and speedtest1-plain, apps/sqlite/source)
set -u
dir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for variant in speedtest1-plain speedtest1; do
  "$dir/$variant" --size 3 --memdb --verify >"$tmp/$variant.out" 2>"$tmp/$variant.err"
  status=$?
  if [[ $status != 0 ]]; then
    echo "FAIL: $variant exited $status"
    tail -3 "$tmp/$variant.err"
    fail=1
  fi
done
plain=$(grep -o 'Verification Hash: [0-9]*' "$tmp/speedtest1-plain.out")
purecap=$(grep -o 'Verification Hash: [0-9]*' "$tmp/speedtest1.out")
tests=$(grep -c '^ *[0-9]* - ' "$tmp/speedtest1.out")
if [[ -z $plain || $plain != "$purecap" ]]; then
  echo "FAIL: plain '$plain', purecap '$purecap'"
  fail=1
fi
[[ $tests -ge 30 ]] || { echo "FAIL: only $tests tests ran purecap"; fail=1; }
[[ $fail == 0 ]] && echo "speedtest1 purecap: $tests tests, $purecap (as plain)"
exit $fail
