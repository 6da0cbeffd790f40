#!/usr/bin/env bash
# Runs every script of the corpus through the image and through the real sqlite3 CLI
# (`sqlite3 -batch :memory:`): standard output, standard error and the exit status must
# be identical, byte for byte.
set -u
image=$1 corpus=$2
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for script in "$corpus"/*.sql; do
  name=$(basename "$script")
  sqlite3 -batch :memory: <"$script" >"$tmp/expected" 2>"$tmp/expected.err"
  expected_status=$?
  "$image" "$script" >"$tmp/actual" 2>"$tmp/actual.err"
  actual_status=$?
  if ! cmp -s "$tmp/expected" "$tmp/actual"; then
    echo "STDOUT MISMATCH $name:"
    diff "$tmp/expected" "$tmp/actual" | head -20
    failures=$((failures + 1))
  elif ! cmp -s "$tmp/expected.err" "$tmp/actual.err"; then
    echo "STDERR MISMATCH $name:"
    diff "$tmp/expected.err" "$tmp/actual.err" | head -20
    failures=$((failures + 1))
  elif [[ $expected_status != "$actual_status" ]]; then
    echo "EXIT STATUS $name: sqlite3 $expected_status, image $actual_status"
    failures=$((failures + 1))
  fi
done
count=$(ls "$corpus"/*.sql | wc -l)
echo "$((count - failures)) passed, $failures failed"
[[ $failures == 0 ]]
