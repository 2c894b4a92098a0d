#!/usr/bin/env bash
# Start-up time of tpusim commands that do not train (docs/performance.md, "Start-up"): each
# command runs RUNS times (default 21) and the median, min and max wall times are printed. The
# QAT toolchain (libtorch) is opened only by train/ptq/qat/demo, so none of these loads it.
#   scripts/bench_startup.sh              # uses build/tpusim
#   RUNS=51 BUILD_DIR=build-rel scripts/bench_startup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
RUNS=${RUNS:-21}
TPUSIM="$BUILD_DIR/tpusim"
[ -x "$TPUSIM" ] || { echo "error: $TPUSIM not built (run scripts/setup.sh)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$TPUSIM" -q asm examples/conv_relu_pool.s -o "$WORK/prog.tpu"

# A small QDQ CNN to compile: the one the back-end test writes (scripts/test.sh -R back).
MODEL="$BUILD_DIR/tests/backend_qdq_int8.onnx"

bench() {  # bench LABEL CMD...
  local label=$1
  shift
  /usr/bin/python3 - "$RUNS" "$label" "$@" <<'PY'
import subprocess, sys, time, statistics
runs, label, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
t = []
for _ in range(runs):
    s = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.append((time.perf_counter() - s) * 1000)
print(f"{label:<34} median {statistics.median(t):7.1f} ms   min {min(t):7.1f}   max {max(t):7.1f}   ({runs} runs)")
PY
}

bench "tpusim --version" "$TPUSIM" --version
bench "tpusim info prog.tpu" "$TPUSIM" info "$WORK/prog.tpu"
bench "tpusim arch show default" "$TPUSIM" arch show default
if [ -f "$MODEL" ]; then
  bench "tpusim compile backend_qdq_int8.onnx" "$TPUSIM" -q compile "$MODEL" --arch default -o "$WORK/model.tpu"
else
  echo "(no $MODEL: run the tests once, scripts/test.sh -R back, to bench compile)"
fi
