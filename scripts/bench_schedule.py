#!/usr/bin/python3
"""The compiler's schedules side by side: each model compiled with `--opt 0` (every op tiled alone,
through DDR), `--opt 1` (the resident schedule, greedy layer groups) and `--opt 2` (layer groups
searched with the cycle model), one timed run each (`compile --simulate`),
against the whole-model bound max(MACs / peak MACs per cycle, compulsory DDR bytes / DDR bytes per
cycle), compulsory = the model's constants + its inputs + its outputs (read from the `--opt 1`
program: `--opt 2` also stores merged constant images, padding included). Prints a Markdown table.

usage: bench_schedule.py TPUSIM MODEL.onnx[:CALIB.npy] ... [--arch default] [--bits w8a8] [--opts 0,1,2]
A model given with :CALIB.npy is an FP32 model, calibrated on it (MSE) once; both schedules then
compile the QDQ model that gives (`--save-qdq`). Without, a QDQ model. The last column: the
group estimates' error (estimated / simulated - 1, the range over the layer groups).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_schedule.py: {' '.join(cmd)}: {(p.stderr.strip().splitlines() or ['failed'])[-1]}")
    return p.stdout + p.stderr


def compulsory_bytes(tpusim, program):
    """Constants + inputs + outputs, from `tpusim info`."""
    info = run([tpusim, "info", program])
    data = int(re.search(r"^data: \d+ blocks, (\d+) bytes", info, re.M).group(1))
    io = sum(int(b) for b in re.findall(r"\((\d+) bytes\)$", info, re.M))
    return data + io


def arch_numbers(tpusim, arch):
    text = run([tpusim, "arch", "show", arch])
    num = lambda key: float(re.search(rf"^{key}:\s*([0-9.]+)", text, re.M).group(1))
    return num("lanes") * num("macs_per_lane"), num("ddr_bytes_per_cycle")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tpusim")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--arch", default="default")
    ap.add_argument("--bits", default="w8a8")
    ap.add_argument("--opts", default="0,1,2", help="schedules to compile, comma-separated")
    a = ap.parse_args()
    peak, bw = arch_numbers(a.tpusim, a.arch)
    print(f"arch {a.arch}: {peak:.0f} MACs per cycle, {bw:.0f} DDR bytes per cycle")
    print("| model | opt | cycles | MAC util | DDR moved | compulsory | moved / compulsory | bound | cycles / bound |"
          " resident + grouped ops / all | compile s | group estimate error |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in a.models:
            model, _, calib = spec.partition(":")
            name = os.path.basename(model).rsplit(".", 1)[0]
            if calib:  # calibrate once; both schedules compile the same QDQ model
                qdq = os.path.join(tmp, "qdq.onnx")
                run([a.tpusim, "-q", "compile", model, "--arch", a.arch, "-o", os.path.join(tmp, "c.tpu"), "--calib",
                     calib, "--bits", a.bits, "--save-qdq", qdq])
                model = qdq
            plain = os.path.join(tmp, "plain.tpu")
            run([a.tpusim, "-q", "compile", model, "--arch", a.arch, "-o", plain, "--opt", "1"])
            comp = compulsory_bytes(a.tpusim, plain)
            for opt in [int(o) for o in a.opts.split(",")]:
                prog, rep = os.path.join(tmp, "p.tpu"), os.path.join(tmp, "r.json")
                cmd = [a.tpusim, "-q", "compile", model, "--arch", a.arch, "-o", prog, "--report", rep, "--simulate",
                       "--opt", str(opt)]
                t0 = time.time()
                run(cmd)
                secs = time.time() - t0
                r = json.load(open(rep))
                bound = max(r["total_macs"] / peak, comp / bw)
                cycles = r["sim_cycles"]
                resident = sum(1 for L in r["layers"] if L.get("schedule") == "resident")
                grouped = sum(1 for L in r["layers"] if L.get("schedule") == "group")
                errs = [g["estimate_error"] for g in r.get("groups", []) if "estimate_error" in g]
                err = f"{min(errs):+.0%} .. {max(errs):+.0%}" if errs else ""
                print(f"| {name} | {opt} | {cycles:,} | {r['total_macs'] / (cycles * peak):.1%} | "
                      f"{r['total_ddr_moved']:,} | {comp:,} | {r['total_ddr_moved'] / comp:.2f} | {bound:,.0f} | "
                      f"{cycles / bound:.3f} | {resident} + {grouped} / {len(r['layers'])} | {secs:.1f} | {err} |", flush=True)


if __name__ == "__main__":
    main()
