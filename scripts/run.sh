#!/usr/bin/env bash
# Quick start, first command: installs what is missing (Debian 12, as root), builds the
# Release preset's tool and SQLite images, and runs FlexCap's main job: SQLite with its
# file system in another compartment, on every backend this machine can run, beside
# no isolation. Arguments go to `flexcap bench sqlite` (e.g. --json, --rounds 9).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/setup.sh
install_dependencies
configure_and_build release flexcap sqlite_images
exec build/release/tools/flexcap bench sqlite "$@"
