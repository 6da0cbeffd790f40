#!/usr/bin/env bash
# What purecap costs on libsodium (flexcap bench purecap): bench.c, the PLOS'23
# workloads, against libsodium built from the same Debian source twice, plain (clang-14)
# and purecap (flexcap cc --abi purecap), run interleaved ROUNDS times.
#   purecap_bench.sh FLEXCAP SOURCE_ROOT WORK_DIR ROUNDS
# Prints one line per workload: "WORKLOAD PLAIN_SECONDS PURECAP_SECONDS" (medians).
set -euo pipefail
flexcap=$1 root=$2 work=$3 rounds=$4
here=$(cd "$(dirname "$0")" && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
plain=$(bash "$here/build.sh" plain "$flexcap" "$root" "$work")
purecap=$(bash "$here/build.sh" purecap "$flexcap" "$root" "$work")
clang-14 -O2 -I"$plain/src/libsodium/include" "$here/bench.c" "$plain/src/libsodium/.libs/libsodium.a" \
  -o "$work/bench-plain"
"$flexcap" cc --abi purecap -O2 -I"$purecap/src/libsodium/include" "$here/bench.c" \
  "$purecap/src/libsodium/.libs/libsodium.a" -o "$work/bench-purecap"
: >"$work/bench.out"
for ((r = 0; r < rounds; ++r)); do
  for variant in plain purecap; do
    "$work/bench-$variant" 1 2>/dev/null | sed "s/^/$variant /" >>"$work/bench.out"
  done
done
for workload in chacha20 bin2hex hex2bin; do
  median() { grep "^$1 $workload " "$work/bench.out" | cut -d' ' -f3 | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
  echo "$workload $(median plain) $(median purecap)"
done
