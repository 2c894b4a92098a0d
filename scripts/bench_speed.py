#!/usr/bin/env python3
"""Simulator speed side by side (docs/performance.md, "Simulator speed").

1. `tpusim eval` of a QDQ image classifier on the Fashion-MNIST test images, timed and functional,
   with 1 job and with every CPU (--jobs), against ONNX Runtime on the same model and images
   (scripts/ort_eval.js, one image per run, one intra-op thread).
2. The simulator's functional conv2d kernel against oneDNN's int8 convolution on the LeNet-5 and
   ResNet-18 conv shapes (tests/bench/bench_conv_onednn.cpp, one thread each), with the ratio.

  scripts/bench_speed.py [--build build] [--model M.onnx] [--limit N] [--skip-eval] [--skip-conv]

Needs BUILD/tpusim, BUILD/tests/bench_conv_onednn (built where libdnnl-dev is installed), node and
onnxruntime-node under $TPUSIM_ORT_DIR or BUILD/tools (scripts/setup_ort.sh BUILD/tools). Wall
and CPU seconds are both printed: on a shared machine CPU time is the fairer figure.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, env=None):
    """Runs cmd; returns (wall s, CPU s of the children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"bench_speed: {' '.join(cmd)} failed:\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout


def eval_table(build, model, limit):
    tpusim = os.path.join(build, "tpusim")
    ort_dir = os.environ.get("TPUSIM_ORT_DIR", os.path.join(build, "tools"))
    jobs = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        prog = os.path.join(tmp, "model.tpu")
        timed([tpusim, "-q", "compile", model, "-o", prog])
        lim = ["--limit", str(limit)] if limit else []
        rows = []
        for mode in ("timed", "functional"):
            for j in sorted({1, jobs}):
                cmd = [tpusim, "-q", "eval", prog, "--jobs", str(j)] + lim
                cmd += ["--functional"] if mode == "functional" else []
                wall, cpu, out = timed(cmd)
                top1 = next((l.split()[2] for l in out.splitlines() if l.startswith("top-1 simulator")), "?")
                rows.append((f"tpusim eval, {mode}, --jobs {j}", wall, cpu, top1))
        cmd = ["node", os.path.join(ROOT, "scripts", "ort_eval.js"), "--ort-dir", ort_dir, model] + lim
        wall, cpu, out = timed(cmd)
        top1 = out.split("top-1 ")[1].split(",")[0] if "top-1 " in out else "?"
        rows.append(("ONNX Runtime (onnxruntime-node, 1 thread)", wall, cpu, top1))
    ort_wall, ort_cpu = rows[-1][1], rows[-1][2]
    print(f"\n{limit or 10000} images of {model}; {jobs} usable CPU(s); load average {os.getloadavg()[0]:.1f}\n")
    print("| run | top-1 | wall s | CPU s | wall / ORT | CPU / ORT |")
    print("|---|---|---|---|---|---|")
    for name, wall, cpu, top1 in rows:
        print(f"| {name} | {top1} | {wall:.2f} | {cpu:.2f} | {wall / ort_wall:.2f}x | {cpu / ort_cpu:.2f}x |")


def conv_table(build):
    exe = os.path.join(build, "tests", "bench_conv_onednn")
    if not os.path.exists(exe):
        print(f"\n(no {exe}: install libdnnl-dev and rebuild for the oneDNN comparison)")
        return
    env = dict(os.environ, OMP_NUM_THREADS="1")
    _, _, out = timed([exe, "--benchmark_format=json", "--benchmark_min_time=0.5"], env)
    rate = {}
    for b in json.loads(out)["benchmarks"]:
        side, shape = b["name"].split("/", 1)
        rate[(side, shape)] = b.get("MAC/s", 0.0)
    print("\n| conv shape | tpusim functional GMAC/s | oneDNN int8 GMAC/s | tpusim / oneDNN |")
    print("|---|---|---|---|")
    for (side, shape), r in rate.items():
        if side == "tpusim":
            d = rate.get(("onednn", shape), 0.0)
            print(f"| {shape} | {r / 1e9:.2f} | {d / 1e9:.2f} | {100 * r / d if d else 0:.0f}% |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=os.path.join(ROOT, "build/tests/cli_demo_work/demo/ptq_w8a8/model.onnx"))
    ap.add_argument("--limit", type=int, default=0, help="first N test images (0 = all 10,000)")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--skip-conv", action="store_true")
    a = ap.parse_args()
    if not a.skip_eval:
        eval_table(a.build, a.model, a.limit)
    if not a.skip_conv:
        conv_table(a.build)


if __name__ == "__main__":
    main()
