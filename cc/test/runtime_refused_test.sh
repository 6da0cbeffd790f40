#!/usr/bin/env bash
# A module that defines the hybrid runtime's registers (what cc/runtime does) is refused
# by the pass with a message saying why; an ordinary module compiles and is reported.
set -u
flexcap=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '__thread unsigned long flexcap_hybrid_registers[7];\n' >"$tmp/runtime.c"
if "$flexcap" cc --abi hybrid -O2 -c "$tmp/runtime.c" -o "$tmp/runtime.o" 2>"$tmp/err"; then
  echo "FAIL: the pass instrumented a module that defines the runtime's registers"
  exit 1
fi
grep -q "the runtime must not be instrumented" "$tmp/err" || { echo "FAIL: no reason given: $(cat "$tmp/err")"; exit 1; }
printf 'int get(int *p) { return *p; }\n' >"$tmp/user.c"
"$flexcap" cc --abi hybrid -O2 -c "$tmp/user.c" -o "$tmp/user.o" || { echo "FAIL: an ordinary module did not compile"; exit 1; }
grep -q '"instrumented": 1' "$tmp/user.o.hybrid.json" || { echo "FAIL: report: $(cat "$tmp/user.o.hybrid.json")"; exit 1; }
echo "the runtime is refused, user code is instrumented and reported"
