#!/usr/bin/env bash
# Builds libsodium from Debian's source package (the version this machine has), as a
# static library, with one ABI:
#   build.sh purecap|plain FLEXCAP SOURCE_ROOT WORK_DIR
# purecap: `flexcap cc --abi purecap` is the C compiler; plain: clang-14, the same flags.
# --disable-asm: the assembly implementations would run unchecked (Morello has none).
# Prints the build tree (WORK_DIR/build-ABI), configured with clang-14: run make there with
# CC=WORK_DIR/cc-purecap for purecap. Rebuilt from scratch when flexcap or the pass
# changed (make cannot tell), else incrementally.
set -euo pipefail
abi=$1 flexcap=$2 root=$3 work=$4
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$work"
work=$(cd "$work" && pwd)
tree=$(bash "$root/third_party/debian-source.sh" libsodium libsodium23 "$work/source")
if [[ $abi == purecap ]]; then
  cat > "$work/cc-purecap" <<SH
#!/bin/sh
exec "$flexcap" cc --abi purecap "\$@"
SH
  chmod +x "$work/cc-purecap"
  cc=$work/cc-purecap
  stamp=$(cat "$flexcap" "$(dirname "$flexcap")/../cc/libflexcap_hybrid.so" 2>/dev/null | sha256sum | cut -c1-16)
else
  cc=clang-14
  stamp=plain
fi
build=$work/build-$abi
# Both ABIs share one autoreconf (a tree kept beside them) and one configure cache, and
# configure with clang-14 itself: the purecap wrapper is the same clang with the pass, so
# every answer would be the same, only slower (each probe linked with the purecap runtime).
# make is then told which compiler to use.
# (Made again when the source tree is another one: a new version of the package.)
generated=$work/autoreconf
if [[ ! -f $generated/.flexcap-done || $(cat "$generated/.flexcap-done") != "$tree" ]]; then
  rm -rf "$generated"
  cp -r "$tree" "$generated"
  (cd "$generated" && autoreconf -fi >"$work/autoreconf.log" 2>&1) || fail "autoreconf: $(tail -5 "$work/autoreconf.log")"
  echo "$tree" >"$generated/.flexcap-done"
fi
if [[ ! -f $build/.flexcap-stamp || $(cat "$build/.flexcap-stamp") != "$stamp" ]]; then
  rm -rf "$build"
  cp -a "$generated" "$build"
  rm -f "$build/.flexcap-done"
  (cd "$build" && ./configure CC=clang-14 CFLAGS=-O2 --cache-file="$work/config-clang.cache" --disable-shared \
    --enable-static --disable-asm >"$work/configure-$abi.log" 2>&1) || fail "configure: $(tail -5 "$work/configure-$abi.log")"
  echo "$stamp" >"$build/.flexcap-stamp"
fi
(cd "$build" && make -j"$(nproc)" CC="$cc" >"$work/make-$abi.log" 2>&1) || fail "make: $(grep -m5 -i error "$work/make-$abi.log")"
echo "$build"
