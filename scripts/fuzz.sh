#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each one. `--smoke` runs each for a
# short, fixed time (what CI does); otherwise each runs until stopped or it finds a bug.
# Findings go to build/fuzz/findings/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/setup.sh
seconds=0
if [[ ${1:-} == --smoke ]]; then seconds=${2:-30}; fi
install_dependencies
configure_and_build fuzz capability_fuzz  # only the fuzz targets: the rest is built by the other presets
mkdir -p build/fuzz/findings build/fuzz/corpus
for target in build/fuzz/cap/fuzz/*_fuzz; do
  name=$(basename "$target")
  mkdir -p "build/fuzz/corpus/$name"
  echo "== $name" >&2
  "$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=build/fuzz/findings/ \
    "build/fuzz/corpus/$name" cap/fuzz/seeds
done
