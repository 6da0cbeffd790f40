#!/usr/bin/env bash
# libsodium 1.0.18 from Debian's source package, compiled purecap (flexcap cc --abi
# purecap as its C compiler), passes its own test suite (test/default, unchanged); and the
# off-by-one injected into sodium_bin2hex faults at exactly the first byte past the
# buffer, with no porting.
#   purecap_test.sh FLEXCAP SOURCE_ROOT WORK_DIR
set -euo pipefail
flexcap=$1 root=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$work"
work=$(cd "$work" && pwd)
# The C library's leaks at exit are not this test's subject (sanitized builds).
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0

build=$(bash "$here/build.sh" purecap "$flexcap" "$root" "$work") || fail "building libsodium purecap"
jobs=$(nproc)
# The tree is configured with clang-14 (build.sh): every make names the purecap compiler.
purecap_cc=$work/cc-purecap

# libsodium's own tests, unchanged.
(cd "$build" && make -j"$jobs" CC="$purecap_cc" check >"$work/check.log" 2>&1) || true
summary=$(grep -E '^# (TOTAL|PASS|FAIL|ERROR):' "$work/check.log" | tr '\n' ' ')
echo "libsodium test/default, purecap: $summary"
total=$(sed -n 's/^# TOTAL: *//p' "$work/check.log")
passed=$(sed -n 's/^# PASS: *//p' "$work/check.log")
[[ -n $total && $total -ge 70 && $passed == "$total" ]] ||
  fail "libsodium's tests: $summary $(grep -E '^(FAIL|ERROR):' "$work/check.log" | tr '\n' ' ')"
checked=$(find "$build/src/libsodium" -name '*.purecap.json' -exec cat {} + | sed -n 's/.*"checked": \([0-9]*\).*/\1/p' |
  awk '{s += $1} END {print s + 0}')
[[ $checked -gt 1000 ]] || fail "the library was not compiled purecap (checked accesses: $checked)"
echo "libsodium compiled purecap: $checked checked accesses"

# The off-by-one, injected into the C source: the NUL lands one byte past the buffer.
codecs=$build/src/libsodium/sodium/codecs.c
cp "$codecs" "$work/codecs.c.orig"
restore() { cp "$work/codecs.c.orig" "$codecs"; }
trap restore EXIT
sed -i -f "$here/bin2hex-off-by-one.sed" "$codecs"
! cmp -s "$codecs" "$work/codecs.c.orig" || fail "the off-by-one patch no longer applies to codecs.c"
(cd "$build" && make -j"$jobs" CC="$purecap_cc" >"$work/make-patched.log" 2>&1) || fail "make with the patch"
"$flexcap" cc --abi purecap -O2 -I"$build/src/libsodium/include" "$here/bin2hex_overflow.c" \
  "$build/src/libsodium/.libs/libsodium.a" -o "$work/bin2hex_overflow" || fail "building the driver"
set +e
"$work/bin2hex_overflow" >"$work/overflow.out" 2>"$work/overflow.err"
status=$?
set -e
restore
(cd "$build" && make -j"$jobs" CC="$purecap_cc" >/dev/null 2>&1) || true
buffer=$(sed -n 's/^buffer 0x\([0-9a-f]*\),.*/\1/p' "$work/overflow.out")
[[ -n $buffer ]] || fail "the driver did not run: $(cat "$work/overflow.out" "$work/overflow.err")"
past=$(printf '%x' $((16#$buffer + 16)))
[[ $status == 139 ]] || fail "the off-by-one did not fault (status $status): $(cat "$work/overflow.err")"
grep -q "^flexcap: capability fault: capability bounds fault: store of 1 byte at 0x$past is outside \[0x$buffer,0x$past)" \
  "$work/overflow.err" || fail "the fault is not at the first byte past the buffer (0x$past): $(cat "$work/overflow.err")"
echo "sodium_bin2hex's injected off-by-one: $(cat "$work/overflow.err")"
