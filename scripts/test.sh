#!/usr/bin/env bash
# Quick start, second command: installs what is missing, builds and runs the whole test
# suite with ctest. `--preset asan` runs it under AddressSanitizer and UBSan instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/setup.sh
preset=release
if [[ ${1:-} == --preset ]]; then preset=${2:?"--preset needs a name: release or asan"}; fi
install_dependencies
configure_and_build "$preset"
ctest --preset "$preset" -j "$(nproc)"
