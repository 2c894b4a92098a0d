#!/usr/bin/env bash
# The main job: install what is missing, build, and run `tpusim demo` on Fashion-MNIST (train
# LeNet-5, PTQ and QAT at W8A8 and W4A4, compile for the default architecture, the 10,000 test
# images through the simulator, report). About 10-15 minutes on 2 cores; a rerun reuses the
# trained models (same options) and takes about 2.5 minutes.
#   scripts/demo.sh                    # writes runs/demo/report.md (+ report.json, PNG plots)
#   scripts/demo.sh -o runs/edge --arch edge      # extra arguments go to `tpusim demo`
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the binary and the QAT toolchain's library: the tests are scripts/test.sh's to build.
TARGETS="tpusim tpusim_train" scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
"$BUILD_DIR/tpusim" demo "$@"
