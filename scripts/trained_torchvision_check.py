#!/usr/bin/python3
"""torchvision CNNs with trained weights, trained here: a short Adam run on Fashion-MNIST (Debian's
dataset-fashion-mnist; 28x28 padded to 32x32, grey replicated to 3 channels, 10 classes), exported
by torch.onnx at opset 13 exactly as for the random-weight checks, then quantized by tpusim (W8A8,
MSE calibration on 16 test images) and simulated. Random-weight networks whose BatchNormalization
statistics must be re-estimated are chaotic (scripts/export_torchvision.py), so their output
cosine says more about chaos than about quantization; a few hundred training steps are enough to
make them ordinary networks again. Prints, per model: FP32 top-1 on 1,000 test images and the W8A8
output cosine of `tpusim compare --arch default` over --images test images (simulator == integer
reference required); fails when a cosine is below 0.99.

usage: trained_torchvision_check.py TPUSIM WORK [--models a,b] [--steps 300] [--images 64]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision

DATA = "/usr/share/datasets/fashion-mnist/"


def idx(path):
    """An IDX file (images [n, h, w] or labels [n]) as a uint8 array."""
    with gzip.open(path) as f:
        d = f.read()
    if d[3] == 3:
        n, h, w = np.frombuffer(d[4:16], ">u4")
        return np.frombuffer(d[16:], np.uint8).reshape(n, h, w)
    return np.frombuffer(d[8:], np.uint8)


def prep(x):
    """uint8 [n, 28, 28] -> float32 [n, 3, 32, 32], normalised with the training set's statistics."""
    x = np.pad(x.astype(np.float32) / 255.0, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(((x - 0.286) / 0.353)[:, None], 3, axis=1).astype(np.float32)


def train(name, steps, xs, ys):
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(num_classes=10)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)  # SGD at 0.05 diverges on MnasNet's first steps
    rng = np.random.RandomState(0)
    m.train()
    t0 = time.time()
    for s in range(steps):
        i = rng.randint(0, len(xs), 64)
        loss = torch.nn.functional.cross_entropy(m(torch.from_numpy(prep(xs[i]))),
                                                 torch.from_numpy(ys[i].astype(np.int64)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s % 100 == 0:
            print(f"  {name} step {s}: loss {float(loss):.3f} ({time.time() - t0:.0f} s)", flush=True)
    # MnasNet's BatchNorm momentum is 3e-4: after a few hundred steps its running statistics are
    # still the initial ones and the eval-mode network is at chance. Re-estimate every BatchNorm's
    # statistics as plain averages over 20 training batches (no gradient step).
    for mod in m.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.reset_running_stats()
            mod.momentum = None
    with torch.no_grad():
        for _ in range(20):
            m(torch.from_numpy(prep(xs[rng.randint(0, len(xs), 64)])))
    return m.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tpusim")
    ap.add_argument("work")
    ap.add_argument("--models", default="mobilenet_v2,mnasnet0_5,efficientnet_b0,mobilenet_v3_small")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--images", type=int, default=64, help="test images compared FP32 vs W8A8")
    a = ap.parse_args()
    if not os.path.isdir(DATA):
        sys.exit(f"{DATA}: missing (apt-get install dataset-fashion-mnist)")
    os.makedirs(a.work, exist_ok=True)
    xs, ys = idx(DATA + "train-images-idx3-ubyte.gz"), idx(DATA + "train-labels-idx1-ubyte.gz")
    xt, yt = idx(DATA + "t10k-images-idx3-ubyte.gz"), idx(DATA + "t10k-labels-idx1-ubyte.gz")
    calib, x = os.path.join(a.work, "calib.npy"), os.path.join(a.work, "x.npy")
    np.save(calib, prep(xt[1000:1016]))
    np.save(x, prep(xt[:a.images]))
    torch.set_num_threads(1)  # small 32x32 batches: more threads only add contention
    rows, failures = [], []
    for name in a.models.split(","):
        m = train(name, a.steps, xs, ys)
        with torch.no_grad():
            acc = float((m(torch.from_numpy(prep(xt[:1000]))).argmax(1).numpy() == yt[:1000]).mean())
        path = os.path.join(a.work, f"{name}.onnx")
        torch.onnx.export(m, torch.from_numpy(prep(xt[:1])), path, opset_version=13)
        js = os.path.join(a.work, f"{name}_compare.json")
        p = subprocess.run([a.tpusim, "compare", path, "--calib", calib, "--bits", "w8a8", "-i", x, "--arch",
                            "default", "--json", js], capture_output=True, text=True)
        if p.returncode != 0:
            failures.append(f"{name}: {p.stderr.strip().splitlines()[-1]}")
            continue
        layers = json.load(open(js))["layers"]
        exact = all(l["sim_equals_ref"] for l in layers)
        cos = layers[-1]["cosine"]
        rows.append(f"| {name} | {a.steps} | {acc:.3f} | {cos:.5f} | {'yes' if exact else 'NO'} |")
        if not exact or cos < 0.99:
            failures.append(f"{name}: cosine {cos:.5f}, sim == ref {exact}")
    print("| model | steps | FP32 top-1 (1,000 images) | W8A8 output cosine | sim == ref |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    if failures:
        sys.exit("FAIL: " + "; ".join(failures))


if __name__ == "__main__":
    main()
