#!/usr/bin/env bash
# Install missing Debian packages (idempotent, quiet when all are present), then configure and
# build tpusim into build/ with Ninja.
#   scripts/setup.sh                 # RelWithDebInfo build in build/
#   BUILD_DIR=build-asan CMAKE_ARGS="-DTPUSIM_SANITIZE=ON" scripts/setup.sh
#   TARGETS="tpusim tpusim_train" scripts/setup.sh   # only these targets (scripts/demo.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake ninja-build g++ pkg-config clang-format git
  libsystemc-dev libfmt-dev libspdlog-dev catch2 libtorch-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libyaml-cpp-dev nlohmann-json3-dev
  libcli11-dev zlib1g-dev libbenchmark-dev libhwy-dev dataset-fashion-mnist
  libopenblas0-openmp  # libtorch's BLAS: Debian's default reference BLAS trains vit_tiny 5x slower
  python3-numpy python3-matplotlib python3-torch python3-torchvision python3-onnx libonnx-testdata
  clang libclang-rt-14-dev  # the sanitized CI build and the libFuzzer targets (scripts/fuzz.sh)
)

# Node.js + npm only run the ONNX Runtime comparison tests (scripts/setup_ort.sh); a machine that
# already has them (any origin) keeps its own.
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # shellcheck disable=SC2086
  cmake -S . -B "$BUILD_DIR" -G Ninja ${CMAKE_ARGS:-} >/dev/null
fi
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "$JOBS" ${TARGETS:+--target $TARGETS}
