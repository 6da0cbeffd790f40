#!/usr/bin/env bash
# Random differential test of the SQLite image, outside CI: installs what is missing,
# builds the Release preset's SQLite images, and runs
# apps/sqlite/test/random_differential_test.sh on every one of them (sqlite_none,
# sqlite_fcalls, sqlite_mprotect, sqlite_process, sqlite_cheri, their _3 layouts and
# sqlite_intel_pku* where built) against the real sqlite3 CLI: seeds 1:1000 at full
# scale unless --seeds FIRST:LAST / --scale small; --jobs N (default: one per CPU),
# --timeout SECONDS (per image and seed) and --keep DIR go to the test; --no-build runs
# the images already built. Long: mprotect crosses gates slowly (minutes per seed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/setup.sh
seeds=1:1000 scale=full jobs=$(nproc) build=1 options=()
while (($# > 0)); do
  case $1 in
    --seeds) seeds=${2:?"--seeds needs FIRST:LAST"}; shift 2 ;;
    --scale) scale=${2:?"--scale needs small or full"}; shift 2 ;;
    --jobs) jobs=${2:?"--jobs needs a number"}; shift 2 ;;
    --timeout | --keep) options+=("$1" "${2:?"$1 needs a value"}"); shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: $0 [--seeds FIRST:LAST] [--scale small|full] [--jobs N] [--timeout SECONDS] [--keep DIR] [--no-build]" >&2; exit 2 ;;
  esac
done
if ((build)); then
  install_dependencies
  configure_and_build release sqlite_images
fi
images=()
for name in none fcalls mprotect process cheri cheri_overlap fcalls_3 mprotect_3 process_3 cheri_3; do
  image=build/release/apps/sqlite/sqlite_$name
  [[ -f $image && -x $image ]] || { echo "missing image: $image" >&2; exit 1; }
  images+=("$image")
done
for image in build/release/apps/sqlite/sqlite_intel_pku*; do   # only where the CPU has PKU
  [[ -f $image && -x $image ]] && images+=("$image")
done
exec bash apps/sqlite/test/random_differential_test.sh "${images[@]}" --seeds "$seeds" --scale "$scale" \
  --jobs "$jobs" "${options[@]}"
