#!/usr/bin/env bash
# Redis's own test suite, all of it, outside CI: installs what is missing, builds the
# Release preset's Redis images and runs `flexcap check redis` on every one built
# (redis_none, redis_fcalls, redis_mprotect, redis_process, ...) against Debian's
# redis-server: every unit, tags -slow and -needs:repl excluded. CI runs a subset
# (ctest -L redis: strings, lists, hashes, sets, sorted sets, expire, keyspace, pubsub,
# multi, info). --units U,... narrows it; --no-build runs the images already built.
# Debian's redis-server runs once, for the first image, and its outcomes are kept in
# build/release/redis-check-reference for the others (and the next run of this script,
# while redis-server's version and the units stay the same; remove it to run it again).
# Exit status 0 when no configuration shows a difference.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/setup.sh
build=1 units=()
while (($# > 0)); do
  case $1 in
    --units) units=(--units "${2:?"--units needs a list"}"); shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: $0 [--units U,...] [--no-build]" >&2; exit 2 ;;
  esac
done
if ((build)); then
  install_dependencies
  configure_and_build release redis_images flexcap
fi
differences=0
for name in none fcalls mprotect process cheri intel_pku fcalls_3 mprotect_3 process_3 cheri_3 intel_pku_3; do
  [[ -x build/release/apps/redis/redis_$name ]] || continue
  start=$(date +%s)
  # A test that makes many requests one by one takes ~400 times longer on mprotect (two
  # mprotect calls of its regions per switch): hyperloglog's "PFCOUNT multiple-keys
  # merge" needed more than runtest's 600 s there. The whole suite in one mprotect server
  # takes hours: each switch rewrites the page-table entries of every populated page of
  # two regions, and the heap keeps the pages earlier units touched (docs/redis-image.md);
  # --units splits it (every unit up to hyperloglog, then the rest, took 62 + 20 minutes).
  timeout=600
  [[ $name == mprotect* ]] && timeout=7200
  if build/release/tools/flexcap check redis --config "$name" "${units[@]}" --test-timeout "$timeout" \
    --reference-cache build/release/redis-check-reference; then
    echo "redis_$name: no difference ($(($(date +%s) - start)) s)"
  else
    echo "redis_$name: DIFFERENCES ($(($(date +%s) - start)) s)"
    differences=$((differences + 1))
  fi
done
((differences == 0))
