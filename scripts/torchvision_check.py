#!/usr/bin/python3
"""Real models through tpusim: torchvision CNNs exported by scripts/export_torchvision.py, each
run by `tpusim infer --engine fp32` against PyTorch's own outputs (two images through a model whose
batch is fixed to 1: two runs), then compiled as exported (calibrated on random images) for every
architecture given, simulated timed, and checked: every layer of the simulator bit-exact with the
integer reference, and the output's cosine against FP32 at least the model's floor. Prints one table row per model, opset and arch;
exits non-zero when a check fails. The test `real_models_torchvision` runs a subset; the bench
(scripts/bench_torchvision.sh) runs every model at 224x224 with --bench.

usage: torchvision_check.py TPUSIM WORK [--models a,b] [--opsets 13,17] [--archs edge,default]
                            [--size 64] [--bits w8a8] [--bench] [--markdown FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# Output cosine floors at W8A8 with MSE calibration. Models whose BatchNormalization statistics
# export_torchvision.py re-estimates (their activations vanish under torchvision's initialisation)
# are chaotic random networks: 40 dB of input noise alone costs their FP32 output cosine 0.97-0.998,
# so their floor is lower (docs/performance.md, "Real models").
FLOOR = {"mobilenet_v2": 0.85, "mobilenet_v3_small": 0.95, "efficientnet_b0": 0.85, "mnasnet0_5": 0.85}


def run(cmd):
    """Runs cmd; returns (wall seconds, stdout). Raises RuntimeError with its last error line."""
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {err.strip().splitlines()[-1] if err.strip() else p.returncode}")
    return time.time() - t0, out


def peak_rss(cmd):
    """Runs cmd alone and returns (wall seconds, its own peak RSS in MB)."""
    t0 = time.time()
    pid = os.spawnv(os.P_NOWAIT, cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit code {os.waitstatus_to_exitcode(status)}")
    return time.time() - t0, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tpusim")
    ap.add_argument("work")
    ap.add_argument("--models", default="resnet18,squeezenet1_0,mobilenet_v3_small,efficientnet_b0")
    ap.add_argument("--opsets", default="13,17")
    ap.add_argument("--archs", default="edge,default")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--bits", default="w8a8")
    ap.add_argument("--bench", action="store_true", help="also compile alone and simulate: time, memory, cycles")
    ap.add_argument("--markdown", help="write the table as Markdown")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, "export_torchvision.py"), a.work, "--models", a.models,
                    "--opsets", a.opsets, "--size", str(a.size), "--images", "2"], check=True,
                   stderr=subprocess.DEVNULL)
    rows, failures = [], []
    head = "| model | opset | arch | bits | layers | sim == ref | cosine | floor |"
    if a.bench:
        head += " compile s | compile MB | cycles | MAC util | sim s |"
    print(head, flush=True)
    for m in a.models.split(","):
        sfx = "_224" if m in ("vgg11", "alexnet") and a.size != 224 else ""
        calib, img = os.path.join(a.work, f"calib{sfx}.npy"), os.path.join(a.work, f"image1{sfx}.npy")
        for opset in a.opsets.split(","):
            model = os.path.join(a.work, f"{m}_opset{opset}.onnx")
            out = os.path.join(a.work, f"{m}_{opset}_fp32.npz")
            try:
                run([a.tpusim, "infer", model, "-i", os.path.join(a.work, f"images{sfx}.npy"), "-o", out])
                got, want = np.load(out)["y"], np.load(os.path.join(a.work, f"{m}_torch.npy"))
                err = float(np.max(np.abs(got - want)))
                if got.shape != want.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-4):
                    failures.append(f"{m} opset {opset}: FP32 differs from PyTorch by up to {err:.3g}")
                print(f"{m} opset {opset}: FP32 interpreter vs PyTorch, max abs difference {err:.3g}", flush=True)
            except RuntimeError as e:
                failures.append(str(e))
            for arch in a.archs.split(","):
                js = os.path.join(a.work, f"{m}_{opset}_{arch}.json")
                row = f"| {m} | {opset} | {arch} | {a.bits} |"
                try:
                    run([a.tpusim, "compare", model, "-i", img, "--calib", calib, "--calib-method", "mse", "--bits",
                         a.bits, "--arch", arch, "--timed", "--json", js])
                    layers = json.load(open(js))["layers"]
                    exact = all(l["sim_equals_ref"] for l in layers)
                    cos = layers[-1]["cosine"]
                    floor = FLOOR.get(m, 0.99) if a.bits == "w8a8" else 0.0
                    row += f" {len(layers)} | {'yes' if exact else 'NO'} | {cos:.5f} | {floor} |"
                    if not exact:
                        failures.append(f"{m} opset {opset} {arch}: simulator differs from the integer reference")
                    if cos < floor:
                        failures.append(f"{m} opset {opset} {arch}: cosine {cos:.5f} < {floor}")
                    if a.bench:
                        prog, stats = js[:-5] + ".tpu", js[:-5] + "_stats.json"
                        ct, mb = peak_rss([a.tpusim, "-q", "compile", model, "--calib", calib, "--calib-method",
                                           "mse", "--bits", a.bits, "--arch", arch, "-o", prog])
                        st, _ = run([a.tpusim, "run", prog, "-i", img, "--stats", stats])
                        s = json.load(open(stats))
                        row += f" {ct:.1f} | {mb:.0f} | {s['total_cycles']:,} | {100 * s['mac_utilization']:.1f}% | {st:.2f} |"
                except (RuntimeError, KeyError, ValueError) as e:
                    row += f" error: {e} |"
                    failures.append(str(e))
                print(row, flush=True)
                rows.append(row)
    if a.markdown:
        with open(a.markdown + ".tmp", "w") as f:
            f.write(head + "\n|" + "---|" * (head.count("|") - 1) + "\n" + "\n".join(rows) + "\n")
        os.replace(a.markdown + ".tmp", a.markdown)
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
