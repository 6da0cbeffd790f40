#!/usr/bin/env bash
# `flexcap cc --abi purecap -o PROG prog.c` builds a standalone program: it runs as
# the plain build does, and a capability fault ends it with one line,
# `flexcap: capability fault: ...`, and exit status 139. `--abi hybrid` builds one too:
# under the whole address space's DDC (as CheriBSD runs a hybrid process) it runs as
# plain, and a range the C library wrappers find outside the DDC ends it the same way.
set -u
flexcap=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$tmp/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* Reads byte N of a 16-byte allocation; prints a checksum of a small computation first. */
int main(int argc, char** argv) {
  size_t n = argc > 1 ? strtoul(argv[1], 0, 10) : 0;
  char* p = malloc(16);
  memset(p, 'x', 16);
  unsigned sum = 0;
  for (int i = 0; i < 1000; ++i) sum = sum * 31 + (unsigned)i;
  printf("sum %u\n", sum);
  fflush(stdout);
  const int status = p[n] == 'x' ? 0 : 3;
  free(p);
  return status;
}
C
"$flexcap" cc --abi purecap -O2 "$tmp/prog.c" -o "$tmp/prog" 2> "$tmp/build.err" || fail "build: $(cat "$tmp/build.err")"
clang-14 -O2 "$tmp/prog.c" -o "$tmp/plain" || fail "the plain build"

"$tmp/prog" 15 > "$tmp/out" 2> "$tmp/err"
[[ $? == 0 ]] || fail "in bounds: exit status $?, $(cat "$tmp/err")"
"$tmp/plain" 15 > "$tmp/plain.out"
cmp -s "$tmp/out" "$tmp/plain.out" || fail "output differs from the plain build: $(cat "$tmp/out")"
[[ ! -s "$tmp/err" ]] || fail "in bounds wrote to stderr: $(cat "$tmp/err")"

"$tmp/prog" 16 > "$tmp/out" 2> "$tmp/err"
status=$?
[[ $status == 139 ]] || fail "one past: exit status $status, expected 139"
cmp -s "$tmp/out" "$tmp/plain.out" || fail "one past: the output before the fault is lost: $(cat "$tmp/out")"
[[ $(wc -l < "$tmp/err") == 1 ]] || fail "one past: expected one line on stderr: $(cat "$tmp/err")"
grep -q '^flexcap: capability fault: capability bounds fault: load of 1 byte at 0x[0-9a-f]* is outside' "$tmp/err" ||
  fail "one past: $(cat "$tmp/err")"
# The strings of argv are capabilities bounded by their length, as a CHERI kernel gives
# them: reading the byte after an argument's NUL faults.
cat > "$tmp/args.c" <<'C'
#include <stdlib.h>
#include <string.h>
int main(int argc, char** argv) {
  const char* s = argv[1];
  size_t n = strtoul(argv[2], 0, 10);
  return ((const volatile char*)s)[n] == 0 ? 0 : 4;
}
C
"$flexcap" cc --abi purecap -O2 "$tmp/args.c" -o "$tmp/args" 2> "$tmp/build.err" || fail "build: $(cat "$tmp/build.err")"
"$tmp/args" abc 3 2> "$tmp/err" || fail "argv: reading an argument's NUL: status $?, $(cat "$tmp/err")"
"$tmp/args" abc 4 2> "$tmp/err"
status=$?
[[ $status == 139 ]] || fail "argv: one past an argument's NUL: exit status $status, expected 139"
grep -q '^flexcap: capability fault: capability bounds fault: load of 1 byte' "$tmp/err" || fail "argv: $(cat "$tmp/err")"

# Sub-object bounds (--subobject-bounds, off by default as in CHERI LLVM): a pointer to a
# structure's member is bounded to the member. Writing 9 bytes through &s.name (8 bytes)
# runs into s.after without them, and faults with them (the loop, made one memset by the
# optimizer, is checked as one store of 9 bytes).
cat > "$tmp/member.c" <<'C'
#include <stdlib.h>
struct record { long before; char name[8]; long after; };
static void __attribute__((noinline)) fill(char* p, size_t n) { for (size_t i = 0; i < n; ++i) p[i] = 'x'; }
int main(int argc, char** argv) {
  struct record* r = malloc(sizeof *r);
  r->after = 0;
  fill(r->name, strtoul(argv[1], 0, 10));
  const int status = r->after != 0 ? 5 : 0;
  free(r);
  return status;
}
C
"$flexcap" cc --abi purecap -O2 "$tmp/member.c" -o "$tmp/member" 2> "$tmp/build.err" || fail "build: $(cat "$tmp/build.err")"
"$flexcap" cc --abi purecap --subobject-bounds -O2 "$tmp/member.c" -o "$tmp/member-sub" 2> "$tmp/build.err" ||
  fail "build with --subobject-bounds: $(cat "$tmp/build.err")"
"$tmp/member" 9 2> "$tmp/err"
[[ $? == 5 ]] || fail "without sub-object bounds, 9 bytes into name should reach after: $(cat "$tmp/err")"
"$tmp/member-sub" 8 2> "$tmp/err" || fail "with sub-object bounds, 8 bytes into name: status $?, $(cat "$tmp/err")"
"$tmp/member-sub" 9 2> "$tmp/err"
status=$?
[[ $status == 139 ]] || fail "with sub-object bounds, 9 bytes into name: exit status $status, expected 139"
grep -q '^flexcap: capability fault: capability bounds fault: store of [0-9]* bytes\? at 0x[0-9a-f]* is outside' "$tmp/err" || fail "sub-object: $(cat "$tmp/err")"

"$flexcap" cc --abi hybrid -O2 "$tmp/prog.c" -o "$tmp/hybrid" 2> "$tmp/build.err" || fail "hybrid build: $(cat "$tmp/build.err")"
"$tmp/hybrid" 15 > "$tmp/out" 2> "$tmp/err" || fail "hybrid: exit status $?, $(cat "$tmp/err")"
cmp -s "$tmp/out" "$tmp/plain.out" || fail "hybrid: output differs from the plain build: $(cat "$tmp/out")"
cat > "$tmp/wrap.c" <<'C'
#include <stdlib.h>
#include <string.h>
/* A length that runs past the end of the address space: the memset wrapper checks it. */
int main(int argc, char** argv) {
  char* p = malloc(16);
  memset(p, 0, argc > 1 ? (size_t)-1 : 16);
  const int status = p[0];
  free(p);
  return status;
}
C
"$flexcap" cc --abi hybrid -O2 "$tmp/wrap.c" -o "$tmp/wrap" 2> "$tmp/build.err" || fail "hybrid build: $(cat "$tmp/build.err")"
"$tmp/wrap" 2> "$tmp/err" || fail "hybrid: an ordinary memset: status $?, $(cat "$tmp/err")"
"$tmp/wrap" past 2> "$tmp/err"
status=$?
[[ $status == 139 ]] || fail "hybrid: a memset past the DDC: exit status $status, expected 139"
grep -q '^flexcap: capability fault: capability bounds fault: store of 18446744073709551615 bytes' "$tmp/err" ||
  fail "hybrid: $(cat "$tmp/err")"
echo "ok: in bounds as plain, one past faults with status 139, argv bounded, sub-object bounds on request; hybrid runs as plain, its wrappers fault"
