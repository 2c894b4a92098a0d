#!/usr/bin/env bash
# Install ONNX Runtime for Node.js (onnxruntime-node, CPU build) — a test aid only: the compiler's
# tests compare its FP32 interpreter with ORT through tests/support/ort/run_ort.js. Idempotent and
# quiet when the pinned version is already there. Needs node and npm (and the npm registry).
#   scripts/setup_ort.sh [DIR]     # default: build/tools; installs DIR/node_modules/onnxruntime-node
set -euo pipefail
ORT_VERSION=1.30.0
cd "$(dirname "$0")/.."
DIR=${1:-build/tools}
PKG="$DIR/node_modules/onnxruntime-node"

installed_ok() {
  [ -f "$PKG/package.json" ] &&
    node -e "const p=require(process.argv[1]+'/package.json'); if (p.version!==process.argv[2]) process.exit(1); require(process.argv[1])" \
      "$(cd "$PKG" && pwd)" "$ORT_VERSION" 2>/dev/null
}

if command -v node >/dev/null && installed_ok; then exit 0; fi

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "setup_ort: '$tool' not found: install Node.js and npm (Debian: apt-get install nodejs npm)" >&2
    echo "setup_ort: the ONNX Runtime comparison tests cannot run without it" >&2
    exit 1
  fi
done

mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"name":"tpusim-test-tools","private":true}' >"$DIR/package.json"
echo "setup_ort: installing onnxruntime-node@$ORT_VERSION into $DIR"
# --ignore-scripts: its install script fetches optional GPU parts from outside the npm registry;
# the CPU build ships inside the package.
if ! npm install --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
     "onnxruntime-node@$ORT_VERSION" >"$DIR/npm-install.log" 2>&1; then
  tail -20 "$DIR/npm-install.log" >&2
  echo "setup_ort: npm install onnxruntime-node@$ORT_VERSION failed (is the npm registry reachable?)" >&2
  exit 1
fi
if ! installed_ok; then
  echo "setup_ort: onnxruntime-node@$ORT_VERSION installed but does not load under $(node --version)" >&2
  exit 1
fi
