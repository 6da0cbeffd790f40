#!/usr/bin/env bash
# Quick start, first command: installs what is missing (Debian 12, as root), builds the
# Release preset and runs FlexCap's main job. Arguments go to `flexcap demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/setup.sh
install_dependencies
configure_and_build release
exec build/release/tools/flexcap demo "$@"
