#!/usr/bin/env bash
# FLEXCAP_OVERLAP_SHARED (flexcap/rt/overlap.h) as `flexcap cc` compiles it: in a
# micro-library (--library NAME) the global goes to section .bss.flexcap_overlap_NAME,
# which the pass leaves where it is and the image's linker script places; an initial
# value other than zero is refused (the region is zero-filled memory); outside an image
# the macro is an error that says why.
set -u
flexcap=$1 source=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
printf '#include "flexcap/rt/overlap.h"\nFLEXCAP_OVERLAP_SHARED int shared_counter[4];\nint own[4];\n' >"$tmp/ok.c"
printf 'int get(int i) { return shared_counter[i] + own[i]; }\n' >>"$tmp/ok.c"
"$flexcap" cc --abi hybrid --library mylib -O2 -c "$tmp/ok.c" -o "$tmp/ok.o" 2>"$tmp/err" ||
  fail "an annotated global did not compile: $(cat "$tmp/err")"
readelf -W -S "$tmp/ok.o" | grep -q ' \.bss\.flexcap_overlap_mylib *NOBITS' ||
  fail "no zero-filled section .bss.flexcap_overlap_mylib: $(readelf -W -S "$tmp/ok.o")"
readelf -W -s "$tmp/ok.o" | grep -q 'shared_counter' || fail "shared_counter is not defined"
grep -q '"globals_placed": 1' "$tmp/ok.o.hybrid.json" ||
  fail "the pass must place the ordinary global only: $(cat "$tmp/ok.o.hybrid.json")"

printf '#include "flexcap/rt/overlap.h"\nFLEXCAP_OVERLAP_SHARED int shared_counter = 5;\n' >"$tmp/init.c"
"$flexcap" cc --abi hybrid --library mylib -c "$tmp/init.c" -o "$tmp/init.o" 2>"$tmp/err" &&
  fail "a non-zero initial value was accepted"
grep -q "non-zero initializer" "$tmp/err" || fail "no reason for the refused initial value: $(cat "$tmp/err")"

"$flexcap" cc --abi hybrid -I"$source/rt/runtime/include" -c "$tmp/ok.c" -o "$tmp/outside.o" 2>"$tmp/err" &&
  fail "the macro compiled outside an image"
grep -q "FLEXCAP_OVERLAP_SHARED needs FLEXCAP_CURRENT_LIBRARY" "$tmp/err" || fail "no reason given: $(cat "$tmp/err")"
echo "annotated globals go to .bss.flexcap_overlap_NAME, zero-filled; misuse is refused with a reason"
