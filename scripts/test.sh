#!/usr/bin/env bash
# Build (installing what is missing) and run every test.
#   scripts/test.sh              # all tests
#   scripts/test.sh -L fast      # extra arguments go to ctest (e.g. -LE slow, -R numerics)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cd "$BUILD_DIR"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
