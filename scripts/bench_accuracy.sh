#!/usr/bin/env bash
# The QAT toolchain's accuracy benchmark on the full Fashion-MNIST test set (docs/qat.md,
# "Accuracy"): LeNet-style FP32, PTQ (each calibrator) and QAT at INT8, W4A4 (each algorithm) and
# W2A2, then one table. A benchmark, not a test: it takes about an hour on 2 cores.
#
#   scripts/bench_accuracy.sh [OUT_DIR]      (default bench-accuracy/)
#   env: TPUSIM (binary, default build/tpusim), FP32_EPOCHS (15), QAT_EPOCHS (3), W2_EPOCHS (6),
#        REF_LIMIT (test images through the integer reference, 2000)
#
# Finished runs (a folder holding report.json) are skipped and interrupted ones resume from their
# checkpoint, so rerunning after a stop continues where it was.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tpusim=${TPUSIM:-$root/build/tpusim}
out=${1:-$root/bench-accuracy}
ref=${REF_LIMIT:-2000}
mkdir -p "$out"

run() {  # run DIR SUBCOMMAND ARGS...
  local dir=$1
  shift
  if [[ -f $out/$dir/report.json ]]; then
    echo "== $dir: done"
    return
  fi
  echo "== $dir: tpusim $*"
  "$tpusim" "$@" -o "$out/$dir"
}

run fp32 train --model lenet5 --epochs "${FP32_EPOCHS:-15}" --resume
for c in minmax percentile mse kl; do
  run "ptq_w8a8_$c" ptq --from "$out/fp32" --bits w8a8 --calib "$c" --ref-limit "$ref"
done
run qat_w8a8_ema qat --from "$out/fp32" --bits w8a8 --algo ema --epochs 2 --ref-limit "$ref" --resume
for c in minmax mse; do
  run "ptq_w4a4_$c" ptq --from "$out/fp32" --bits w4a4 --calib "$c" --ref-limit "$ref"
done
for a in ema lsq pact dorefa; do
  run "qat_w4a4_$a" qat --from "$out/fp32" --bits w4a4 --algo "$a" --epochs "${QAT_EPOCHS:-3}" --ref-limit "$ref" --resume
done
run ptq_w2a2_mse ptq --from "$out/fp32" --bits w2a2 --calib mse --ref-limit "$ref"
run qat_w2a2_lsq qat --from "$out/fp32" --bits w2a2 --algo lsq --epochs "${W2_EPOCHS:-6}" --ref-limit "$ref" --resume

"${PYTHON:-/usr/bin/python3}" "$root/scripts/accuracy_table.py" "$out"
