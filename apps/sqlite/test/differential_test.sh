#!/usr/bin/env bash
# Runs every script of the corpus through the image and through the real sqlite3 CLI
# (`sqlite3 -batch :memory:`): standard output and the exit status must be identical.
set -u
image=$1 corpus=$2
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for script in "$corpus"/*.sql; do
  name=$(basename "$script")
  sqlite3 -batch :memory: <"$script" >"$tmp/expected" 2>/dev/null
  expected_status=$?
  "$image" "$script" >"$tmp/actual" 2>"$tmp/errors"
  actual_status=$?
  if ! cmp -s "$tmp/expected" "$tmp/actual"; then
    echo "MISMATCH $name:"
    diff "$tmp/expected" "$tmp/actual" | head -20
    failures=$((failures + 1))
  elif [[ $expected_status != "$actual_status" ]]; then
    echo "EXIT STATUS $name: sqlite3 $expected_status, image $actual_status ($(head -3 "$tmp/errors"))"
    failures=$((failures + 1))
  fi
done
count=$(ls "$corpus"/*.sql | wc -l)
echo "$((count - failures)) passed, $failures failed"
[[ $failures == 0 ]]
