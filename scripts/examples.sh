#!/usr/bin/env bash
# Every configuration shipped under examples/ through the real `flexcap run`, outside CI
# (about 50 images, 8 minutes on two cores; CI's cli.examples runs a subset that takes
# every path of `flexcap run`): installs what is missing, builds the Release preset's
# flexcap, and runs tools/flexcap/test/examples_test.sh with its images in
# build/release/images. Exit status 0 when every example ran as expected.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/setup.sh
install_dependencies
configure_and_build release flexcap
exec bash tools/flexcap/test/examples_test.sh build/release/tools/flexcap "$PWD" build/release/images
