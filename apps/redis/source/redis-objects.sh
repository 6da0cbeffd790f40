#!/usr/bin/env bash
# Redis from Debian's source package, as FlexCap compiles it itself:
#   redis-objects.sh DEST ABI FLEXCAP
#   redis-objects.sh DEST --fetch   (only the first step: the build runs it once, before
#                                    the ABIs build side by side)
# fetches the source of the redis-server this machine has (third_party/debian-source.sh,
# Debian's patches applied) and builds redis-server's objects with Redis's own Makefile
# (MALLOC=libc: Redis allocates through malloc, which FlexCap serves from its
# compartment's heap), every C file compiled by `FLEXCAP cc --abi ABI --library redis`
# (ABI: plain, hybrid or count). Leaves DEST/redis.ABI.o: the server and its bundled
# dependencies (Lua, hiredis, hdr_histogram) as one relocatable object, with
#   main                      renamed redis_main (the image's program calls it);
#   the socket, pipe and epoll calls renamed flexcap_redis_* (apps/redis/src/
#                             redis_posix.cc sends them to the net micro-library), and
#                             sigaction (FlexCap's fault handler stays installed) and fork
#                             (a child never calls the net compartment it shares).
# Also DEST/tree: the unpacked source (its tests/ are what `flexcap check redis` runs).
set -euo pipefail
dest=$1 abi=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$dest"
if [[ $abi == --fetch ]]; then
  tree=$(bash "$here/../../../third_party/debian-source.sh" redis redis-server "$dest/debian")
  ln -sfn "$tree" "$dest/tree"
  exit 0
fi
flexcap=$3
tree=$(readlink -f "$dest/tree")
version=$(cat "$tree/.flexcap-unpacked" 2>/dev/null) || {
  echo "redis-objects.sh: no Redis source in $dest/tree. Fix: run redis-objects.sh $dest --fetch first" >&2
  exit 1
}

# The calls that name a descriptor or a file, fork and waitpid, and sigaction: renamed
# wherever Redis makes them (as the C library's name, or as the hybrid wrapper's where the
# pass already redirected it), to ../src/redis_posix.cc (sockets) and redis_files.cc
# (files, which are in ramfs).
renamed_calls=(sigaction fork waitpid socket bind connect listen accept accept4 getsockname getpeername setsockopt
  getsockopt read recv write send writev close fcntl fcntl64 pipe pipe2 epoll_create epoll_create1 epoll_ctl epoll_wait
  poll fopen fopen64 fileno open open64 lseek64 fsync fdatasync sync_file_range ftruncate64 truncate64 fstat64 stat64
  lstat64 mkdir rename unlink access)

case $abi in
  plain | hybrid) cc_abi=(--abi "$abi") ;;
  count) cc_abi=(--abi hybrid --count-checks) ;;
  *) echo "redis-objects.sh: ABI must be plain, hybrid or count, not '$abi'" >&2; exit 2 ;;
esac

# From a fresh copy every time: the build runs this when the compiler or the pass changed,
# which Redis's Makefile cannot see. (-a: the timestamps keep Redis's generated files from
# being made again.)
build=$dest/$abi
rm -rf "$build"
cp -a "$tree" "$build"
# Redis's own Makefile, with its own flags; only the compiler is ours. It builds the
# bundled dependencies first (after cleaning them, whenever its settings change); of Lua
# only the library is needed (its programs would be linked by `flexcap cc`), made after.
# Linking is left to the step below (REDIS_LD=true).
make_options=(MALLOC=libc BUILD_TLS=no USE_SYSTEMD=no OPTIMIZATION=-O2 "CC=$flexcap cc ${cc_abi[*]} --library redis"
  REDIS_LD=true)
# (GIT_DIR: Redis's release.h would take FlexCap's commit, the build tree being inside
# FlexCap's repository; Debian's build reports none either.)
export GIT_DIR=/nonexistent
make -s -C "$build/src" -j "$(nproc)" "${make_options[@]}" "DEPENDENCY_TARGETS=hiredis linenoise hdr_histogram" \
  redis-server >&2
# (deps/Makefile's LUA_CFLAGS, as its `lua` target passes them)
make -s -C "$build/deps/lua/src" -j "$(nproc)" "${make_options[@]}" AR="ar rc" \
  CFLAGS="-Wall -DLUA_ANSI -DENABLE_CJSON_GLOBAL -DREDIS_STATIC='' -DLUA_USE_MKSTEMP -O2" liblua.a >&2

objects=$(sed -n 's/^REDIS_SERVER_OBJ=//p' "$build/src/Makefile")
[[ -n $objects ]] || { echo "redis-objects.sh: no REDIS_SERVER_OBJ in $build/src/Makefile" >&2; exit 1; }
combined=$dest/redis.$abi.combined.o
(cd "$build/src" && ld -r -o "$combined" $objects ../deps/hiredis/libhiredis.a ../deps/lua/src/liblua.a \
  ../deps/hdr_histogram/libhdrhistogram.a)

undefined=$(nm -u "$combined" | awk '{print $2}')
renames=$dest/redis.$abi.renames
echo "main redis_main" >"$renames"
for call in "${renamed_calls[@]}"; do
  found=()
  for name in "$call" "flexcap_hybrid_$call"; do
    if grep -qx "$name" <<<"$undefined"; then found+=("$name"); fi
  done
  if ((${#found[@]} > 1)); then
    echo "redis-objects.sh: redis.$abi.o calls both $call and flexcap_hybrid_$call; expected one" >&2
    exit 1
  fi
  if ((${#found[@]} == 1)); then echo "${found[0]} flexcap_redis_$call" >>"$renames"; fi
done
objcopy --redefine-syms="$renames" "$combined" "$dest/redis.$abi.o"
rm -f "$combined"
# Nothing may reach the host's sockets or files around the net library and vfs.
left=$(nm -u "$dest/redis.$abi.o" | awk '{print $2}' | grep -xE "(flexcap_hybrid_)?($(IFS='|'; echo "${renamed_calls[*]}"))" || true)
if [[ -n $left ]]; then
  echo "redis-objects.sh: redis.$abi.o still calls these directly: $left" >&2
  exit 1
fi
