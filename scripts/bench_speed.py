#!/usr/bin/env python3
"""Simulator speed side by side (docs/performance.md, "Simulator speed").

1. `tpusim eval` of a QDQ image classifier on the Fashion-MNIST test images, timed and functional,
   with 1 job and with every CPU (--jobs), against ONNX Runtime on the same model and images
   (scripts/ort_eval.js, one image per run, one intra-op thread).
2. The simulator's functional conv2d kernel against oneDNN's int8 convolution on the LeNet-5 and
   ResNet-18 conv shapes (tests/bench/bench_conv_onednn.cpp, one thread each), with the ratio.

  scripts/bench_speed.py [--build build] [--before OLD_BUILD] [--repeat N] [--model M.onnx]
                         [--limit N] [--skip-eval] [--skip-conv]

--before runs a second build's binaries in the same rounds (alternating with --build, so both
see the same load): a before/after comparison. --repeat N runs every measurement N times and
prints each round and the medians. Needs BUILD/tpusim, BUILD/tests/bench_conv_onednn (built
where libdnnl-dev is installed), node and onnxruntime-node under $TPUSIM_ORT_DIR or BUILD/tools
(scripts/setup_ort.sh BUILD/tools). Wall and CPU seconds are both printed: on a shared machine
CPU time is the fairer figure, and the load average is printed with every round.
"""
import argparse
import json
import os
import resource
import statistics
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


def load():
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def builds_of(a):
    """[(label, build dir)]: the build under test, then the --before build if any."""
    out = [("after" if a.before else "tpusim", a.build)]
    if a.before:
        out.append(("before", a.before))
    return out


def eval_table(a):
    builds = builds_of(a)
    ort_dir = os.environ.get("TPUSIM_ORT_DIR", os.path.join(a.build, "tools"))
    jobs = len(os.sched_getaffinity(0))
    lim = ["--limit", str(a.limit)] if a.limit else []
    runs = {}  # name -> [(wall, cpu)]
    top1 = {}
    with tempfile.TemporaryDirectory() as tmp:
        progs = {}
        for label, build in builds:
            progs[label] = os.path.join(tmp, f"{label}.tpu")
            timed([os.path.join(build, "tpusim"), "-q", "compile", a.model, "-o", progs[label]])
        for rnd in range(a.repeat):
            print(f"eval round {rnd + 1}/{a.repeat}, load average {load()}", flush=True)
            for mode in ("timed", "functional"):
                for j in sorted({1, jobs}):
                    for label, build in builds:
                        cmd = [os.path.join(build, "tpusim"), "-q", "eval", progs[label], "--jobs", str(j)] + lim
                        cmd += ["--functional"] if mode == "functional" else []
                        wall, cpu, out = timed(cmd)
                        name = f"{label}: tpusim eval, {mode}, --jobs {j}"
                        runs.setdefault(name, []).append((wall, cpu))
                        top1[name] = next((l.split()[2] for l in out.splitlines() if l.startswith("top-1 simulator")), "?")
            cmd = ["node", os.path.join(ROOT, "scripts", "ort_eval.js"), "--ort-dir", ort_dir, a.model] + lim
            wall, cpu, out = timed(cmd)
            name = "ONNX Runtime (onnxruntime-node, 1 thread)"
            runs.setdefault(name, []).append((wall, cpu))
            top1[name] = out.split("top-1 ")[1].split(",")[0] if "top-1 " in out else "?"
            for name, r in runs.items():
                print(f"  {name}: {r[-1][0]:.2f} s wall, {r[-1][1]:.2f} s CPU")
    med = {n: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for n, r in runs.items()}
    ort_wall, ort_cpu = med["ONNX Runtime (onnxruntime-node, 1 thread)"]
    print(f"\n{a.limit or 10000} images of {a.model}; {jobs} usable CPU(s); medians of {a.repeat}; "
          f"load average now {load()}\n")
    print("| run | top-1 | wall s | CPU s | wall / ORT | CPU / ORT |")
    print("|---|---|---|---|---|---|")
    for name, (wall, cpu) in med.items():
        print(f"| {name} | {top1[name]} | {wall:.2f} | {cpu:.2f} | {wall / ort_wall:.2f}x | {cpu / ort_cpu:.2f}x |")
    for label, _ in builds:
        t, f = med.get(f"{label}: tpusim eval, timed, --jobs 1"), med.get(f"{label}: tpusim eval, functional, --jobs 1")
        if t and f:
            print(f"\n{label}: timed / functional (--jobs 1) = {t[1] / f[1]:.3f} CPU, {t[0] / f[0]:.3f} wall")


def conv_rates(build, repeat):
    """{(side, shape): median MAC/s} of one bench_conv_onednn run with `repeat` repetitions."""
    exe = os.path.join(build, "tests", "bench_conv_onednn")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    _, _, out = timed([exe, "--benchmark_format=json", "--benchmark_min_time=0.3",
                       f"--benchmark_repetitions={repeat}", "--benchmark_report_aggregates_only=true"], env)
    rate = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        side, shape = b["run_name"].split("/", 1) if "run_name" in b else b["name"].split("/", 1)
        rate[(side, shape)] = b.get("MAC/s", 0.0)
    return rate


def conv_table(a):
    builds = builds_of(a)
    for label, build in builds:
        if not os.path.exists(os.path.join(build, "tests", "bench_conv_onednn")):
            print(f"\n(no {build}/tests/bench_conv_onednn: install libdnnl-dev and rebuild for the oneDNN comparison)")
            return
    rates = {}
    for label, build in builds:
        print(f"conv benchmark ({label}), load average {load()}", flush=True)
        rates[label] = conv_rates(build, a.repeat)
    labels = [label for label, _ in builds]
    print(f"\nGMAC/s, medians of {a.repeat}; load average now {load()}\n")
    head = " | ".join(f"{l} tpusim | {l} oneDNN | {l} ratio" for l in labels)
    print(f"| conv shape | {head} |")
    print("|---|" + "---|" * (3 * len(labels)))
    for (side, shape) in rates[labels[0]]:
        if side != "tpusim":
            continue
        cells = []
        for l in labels:
            t, d = rates[l].get(("tpusim", shape), 0.0), rates[l].get(("onednn", shape), 0.0)
            cells.append(f"{t / 1e9:.1f} | {d / 1e9:.1f} | {100 * t / d if d else 0:.0f}%")
        print(f"| {shape} | {' | '.join(cells)} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--before", help="a second build dir to compare with, run in the same rounds")
    ap.add_argument("--repeat", type=int, default=1, help="rounds; medians are reported")
    ap.add_argument("--model", default=os.path.join(ROOT, "build/tests/cli_demo_work/demo/ptq_w8a8/model.onnx"))
    ap.add_argument("--limit", type=int, default=0, help="first N test images (0 = all 10,000)")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--skip-conv", action="store_true")
    a = ap.parse_args()
    if not a.skip_eval:
        eval_table(a)
    if not a.skip_conv:
        conv_table(a)


if __name__ == "__main__":
    main()
