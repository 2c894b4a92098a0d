#!/usr/bin/python3
"""PyTorch's own post-training quantization of the torchvision models of export_torchvision.py, as a
yardstick for tpusim's PTQ: the same random weights (same seed, same BatchNormalization estimate),
the same calibration images and the same test image, quantized by torch.ao (FX graph mode, int8
weights per channel symmetric, uint8 activations per tensor over the full range, observers
HistogramObserver or MinMaxObserver), run by PyTorch's quantized CPU kernels; and the FP32 network
with only its weights rounded to int8 (per channel, round to nearest). Prints each model's
output cosine against its FP32 output, beside tpusim's when --tpusim is given (`tpusim compare
--calib-method mse` and `minmax`, the last layer's cosine).

usage: torch_ptq_reference.py DIR [--models mobilenet_v2,mnasnet0_5] [--size 224] [--tpusim build/tpusim]
DIR holds calib.npy and image1.npy as export_torchvision.py writes them (and <model>_opset13.onnx
for --tpusim); the models are rebuilt here, not read from the ONNX files.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_torchvision as ev  # noqa: E402  (after the path; also checks torch is installed)

import torch  # noqa: E402
from torch.ao.quantization import (HistogramObserver, MinMaxObserver, PerChannelMinMaxObserver,  # noqa: E402
                                   QConfig, get_default_qconfig_mapping)
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx  # noqa: E402


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def torch_ptq(name, size, observer, calib, x):
    act = (HistogramObserver.with_args(dtype=torch.quint8, reduce_range=False) if observer == "histogram" else
           MinMaxObserver.with_args(dtype=torch.quint8))
    weight = PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    # The engine's default mapping keeps PyTorch's fixed ranges for Sigmoid/Hardsigmoid/Tanh.
    qmap = get_default_qconfig_mapping(torch.backends.quantized.engine).set_global(
        QConfig(activation=act, weight=weight))
    m = prepare_fx(ev.build(name, size, "auto"), qmap, example_inputs=(x,))
    with torch.no_grad():
        for i in range(0, len(calib), 4):
            m(calib[i:i + 4])
        return convert_fx(m)(x).numpy()


def weights_only(name, size, x):
    """The FP32 network with only its Conv/Linear weights rounded to int8, per output channel,
    symmetric, scale max|w| / 127 (round to nearest) and nothing else quantized: a floor no W8A8
    scheme with round-to-nearest per-channel weights gets above on this network."""
    m = ev.build(name, size, "auto")
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                w = mod.weight
                s = w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True).clamp_min(1e-12) / 127
                mod.weight.copy_(torch.round(w / s) * s)
        return m(x).numpy()


def tpusim_cosine(tpusim, model, d, method):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "c.json")
        subprocess.run([tpusim, "-q", "compare", model, "-i", os.path.join(d, "image1.npy"), "--calib",
                        os.path.join(d, "calib.npy"), "--calib-method", method, "--json", out],
                       stdout=subprocess.DEVNULL, check=False).returncode == 0 or sys.exit(
                           f"torch_ptq_reference.py: tpusim compare failed on {model}")
        return json.load(open(out))["layers"][-1]["cosine"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--models", default="mobilenet_v2,mnasnet0_5")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--tpusim", help="also run tpusim compare on DIR/<model>_opset13.onnx")
    a = ap.parse_args()
    engines = torch.backends.quantized.supported_engines
    engine = next((e for e in ("x86", "fbgemm", "onednn", "qnnpack") if e in engines), None)
    if engine is None:
        sys.exit(f"torch_ptq_reference.py: this PyTorch has no quantized CPU engine ({engines})")
    torch.backends.quantized.engine = engine
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    calib = torch.from_numpy(np.load(os.path.join(a.dir, "calib.npy")))
    x = torch.from_numpy(np.load(os.path.join(a.dir, "image1.npy")))
    cols = ["int8 weights only (FP32 activations)", "torch histogram", "torch minmax"] + (["tpusim mse", "tpusim minmax"] if a.tpusim else [])
    print(f"PyTorch {torch.__version__}, quantized engine {engine}, {len(calib)} calibration images")
    print("| model | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name in a.models.split(","):
        if name not in ev.ALL:
            sys.exit(f"torch_ptq_reference.py: unknown model '{name}' (one of: {', '.join(ev.ALL)})")
        with torch.no_grad():
            ref = ev.build(name, a.size, "auto")(x).numpy()
        row = [cosine(weights_only(name, a.size, x), ref)]
        row += [cosine(torch_ptq(name, a.size, o, calib, x), ref) for o in ("histogram", "minmax")]
        if a.tpusim:
            model = os.path.join(a.dir, f"{name}_opset13.onnx")
            if not os.path.exists(model):
                sys.exit(f"torch_ptq_reference.py: {model}: no such file (export_torchvision.py {a.dir} "
                         f"--models {name} --opsets 13 --size {a.size})")
            row += [tpusim_cosine(a.tpusim, model, a.dir, m) for m in ("mse", "minmax")]
        print(f"| {name} | " + " | ".join(f"{c:.5f}" for c in row) + " |", flush=True)


if __name__ == "__main__":
    main()
