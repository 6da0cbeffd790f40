#!/usr/bin/env bash
# Builds the Release preset and runs the benchmarks; each prints its figures as ratios
# to a baseline measured in the same run, beside the targets they answer to.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/setup.sh
install_dependencies
configure_and_build release
build/release/bench/cap_benchmark "$@"
