#!/usr/bin/env bash
# Real models at full size: every torchvision CNN of scripts/export_torchvision.py at 224x224,
# opset 13, W8A8 (MSE calibration on 16 random images), compiled for `default`: compile time and
# peak memory, simulated cycles, MAC utilization, simulation wall time, output cosine against FP32.
# Prints a Markdown table (docs/performance.md, "Real models") and keeps it in $WORK/table.md.
#   scripts/bench_torchvision.sh                 # all models (about 15 minutes on 2 cores)
#   MODELS=resnet18,vgg11 scripts/bench_torchvision.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS="tpusim" scripts/setup.sh
WORK=${WORK:-build/bench_torchvision}
ALL=resnet18,resnet50,mobilenet_v2,mobilenet_v3_small,efficientnet_b0,squeezenet1_0,googlenet,densenet121,regnet_x_400mf,mnasnet0_5,shufflenet_v2_x0_5,vgg11,alexnet,fpn_resnet18,focus_resnet18

/usr/bin/python3 scripts/torchvision_check.py build/tpusim "$WORK" --models "${MODELS:-$ALL}" --size 224 \
  --opsets 13 --archs default --bench --markdown "$WORK/table.md" || true
echo
cat "$WORK/table.md"
