#!/usr/bin/python3
"""ONNX's own backend node tests through `tpusim infer`.

Runs every node test of the ONNX distribution (Debian's libonnx-testdata: one directory per test,
a model.onnx and test_data_set_*/{input,output}_*.pb) whose ops are all among the ops tpusim
supports (docs/compiler.md, "Operators"). A test belongs to op X if its graph holds a node of type
X. Float tests run on the FP32 interpreter (--engine fp32); tests with QuantizeLinear /
DequantizeLinear or integer inputs/outputs run on the simulator (--engine sim --arch default).
Each output is compared with the expected one: same shape, then float outputs with np.allclose
(rtol 1e-3, atol 1e-5, NaN equal to NaN), integer/bool outputs within one LSB.

Each test is
  passed   every data set's outputs match,
  failed   tpusim ran (or crashed, or exited with a code other than 1) and an output differs,
  refused  tpusim exited with code 1 and one `error:` line (an honest, named limitation).
Tests with an op outside the supported list, or with a sequence/optional graph input or output
(tpusim takes tensors only; an .npz cannot hold one), are counted as "not applicable".

Prints a summary per op; exits non-zero when a test failed or when none passed.

usage: onnx_node_tests.py TPUSIM OUT_DIR [--data DIR] [--markdown docs/onnx-node-tests.md]
                          [--ops Op1,Op2] [--jobs N]
"""
import argparse
import collections
import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import time

import numpy as np
import onnx
import onnx.numpy_helper

SUPPORTED = set("""Conv Gemm MatMul Relu Clip MaxPool AveragePool GlobalAveragePool ReduceMean Add Mul
    Sub Div BatchNormalization Sigmoid HardSigmoid HardSwish Tanh LeakyRelu Elu Exp Erf Softplus Gelu
    Concat Flatten Reshape QuantizeLinear DequantizeLinear Pad Identity Dropout Constant Shape Gather
    Unsqueeze Squeeze Cast ConstantOfShape Range Slice Transpose Neg Sqrt""".split())
QDQ = {"QuantizeLinear", "DequantizeLinear"}
RTOL, ATOL, INT_TOL = 1e-3, 1e-5, 1
TIMEOUT = 120  # seconds per tpusim run


def load_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return onnx.numpy_helper.to_array(t)


def npz_name(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def is_int_type(vi):
    """True when a graph input/output is an integer or bool tensor."""
    elem = vi.type.tensor_type.elem_type
    if not elem:
        return False
    kind = np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem]).kind
    return kind in "iub"


def compare(expected, got):
    """None when `got` matches `expected`, else a short description of the difference."""
    if expected.shape != got.shape:
        return f"shape {list(got.shape)}, expected {list(expected.shape)}"
    if expected.dtype.kind in "iub":
        diff = np.abs(expected.astype(np.int64) - got.astype(np.int64)) if expected.size else np.zeros(1)
        return None if diff.max() <= INT_TOL else f"max |diff| {diff.max()} (> {INT_TOL} LSB)"
    if expected.dtype.kind in "fc":
        e, g = expected.astype(np.float64), got.astype(np.float64)
        if np.allclose(g, e, rtol=RTOL, atol=ATOL, equal_nan=True):
            return None
        with np.errstate(invalid="ignore"):
            diff = np.abs(e - g)
        diff = np.where(np.isnan(e) & np.isnan(g), 0.0, diff)
        return f"max |diff| {np.nanmax(diff) if not np.isnan(diff).all() else 'nan':.4g}" + \
            (" (NaN mismatch)" if np.isnan(diff).any() else "")
    return None if np.array_equal(expected, got) else "values differ"


def run_test(tpusim, test_dir, work, engine):
    """(result, detail) of one node test over all its data sets."""
    model_path = os.path.join(test_dir, "model.onnx")
    model = onnx.load(model_path)
    inits = {i.name for i in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in inits]
    outputs = [o.name for o in model.graph.output]
    name = os.path.basename(test_dir)
    for ds in sorted(glob.glob(os.path.join(test_dir, "test_data_set_*"))):
        tag = f"{name}.{os.path.basename(ds)}"
        in_files = sorted(glob.glob(os.path.join(ds, "input_*.pb")), key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
        arrays = {inputs[k]: load_tensor(p) for k, p in enumerate(in_files)}
        in_npz, out_npz = os.path.join(work, tag + ".in.npz"), os.path.join(work, tag + ".out.npz")
        np.savez(in_npz, **arrays)
        cmd = [tpusim, "infer", model_path, "-i", in_npz, "-o", out_npz, "--engine", engine]
        if engine == "sim":
            cmd += ["--arch", "default"]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return "failed", f"timed out after {TIMEOUT} s"
        if p.returncode != 0:
            errs = [line for line in p.stderr.splitlines() if line.startswith("error:")]
            if p.returncode == 1 and errs:
                return "refused", errs[-1].split(model_path + ": ", 1)[-1].removeprefix("error: ")
            last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
            return "failed", f"exit code {p.returncode}: {last}"[:200]
        with np.load(out_npz) as got:
            for k, out in enumerate(outputs):
                exp_path = os.path.join(ds, f"output_{k}.pb")
                if not os.path.exists(exp_path):
                    continue
                if npz_name(out) not in got:
                    return "failed", f"output '{out}' missing from {os.path.basename(out_npz)}"
                diff = compare(load_tensor(exp_path), got[npz_name(out)])
                if diff:
                    return "failed", f"{os.path.basename(ds)} output '{out}': {diff}"
    return "passed", ""


def write_markdown(path, rows, counts, argv):
    lines = ["# ONNX backend node tests through tpusim", "",
             "Generated by `scripts/onnx_node_tests.py`; do not edit. Regenerate with",
             "", "```", "/usr/bin/python3 scripts/onnx_node_tests.py build/tpusim /tmp/onnx_node_tests "
             "--markdown docs/onnx-node-tests.md", "```", "",
             "Every node test of ONNX's test data (Debian's libonnx-testdata) whose ops are all ones tpusim",
             "supports (docs/compiler.md, \"Operators\"): float tests on the FP32 interpreter, QDQ and integer",
             f"tests on the simulator (`default` arch). Floats compared within rtol {RTOL} / atol {ATOL},",
             f"integers within {INT_TOL} LSB. Refused = tpusim declined the model with a one-line error.", "",
             f"Totals: {counts['passed']} passed, {counts['failed']} failed, {counts['refused']} refused, "
             f"{counts['n/a']} not applicable (an op tpusim does not support, or a sequence/optional "
             "input or output).", "",
             "| test | ops | engine | result | detail |", "|---|---|---|---|---|"]
    for name, ops, engine, result, detail in rows:
        detail = detail.replace("|", "\\|")
        lines.append(f"| {name} | {', '.join(ops)} | {engine} | {result} | {detail} |")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tpusim")
    ap.add_argument("out_dir")
    ap.add_argument("--data", default="/usr/share/libonnx-testdata/data/node")
    ap.add_argument("--markdown")
    ap.add_argument("--ops", help="only tests holding one of these ops (comma-separated)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    tpusim = os.path.abspath(args.tpusim)
    os.makedirs(args.out_dir, exist_ok=True)
    only = set(args.ops.split(",")) if args.ops else None
    if only and not only <= SUPPORTED:
        sys.exit(f"--ops: not supported by tpusim: {', '.join(sorted(only - SUPPORTED))}")

    tests, not_applicable = [], 0
    for d in sorted(glob.glob(os.path.join(args.data, "test_*"))):
        model = onnx.load(os.path.join(d, "model.onnx"))
        ops = sorted({n.op_type for n in model.graph.node})
        values = list(model.graph.input) + list(model.graph.output)
        if not ops or not set(ops) <= SUPPORTED or not all(v.type.HasField("tensor_type") for v in values):
            not_applicable += 1
            continue
        if only and not only & set(ops):
            continue
        integer = any(is_int_type(v) for v in values)
        tests.append((d, ops, "sim" if integer or QDQ & set(ops) else "fp32"))
    if not tests:
        sys.exit(f"no applicable node tests under {args.data}")

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda t: run_test(tpusim, t[0], args.out_dir, t[2]), tests))
    rows = [(os.path.basename(d), ops, engine, r, detail) for (d, ops, engine), (r, detail) in zip(tests, results)]

    per_op = collections.defaultdict(collections.Counter)
    counts = collections.Counter({"passed": 0, "failed": 0, "refused": 0, "n/a": not_applicable})
    for name, ops, engine, r, detail in rows:
        counts[r] += 1
        for op in ops:
            per_op[op][r] += 1
        if r != "passed":
            print(f"{r.upper():8} {name} [{engine}]: {detail}")
    print(f"\n{'op':20} {'passed':>6} {'failed':>6} {'refused':>7}")
    for op in sorted(per_op):
        c = per_op[op]
        print(f"{op:20} {c['passed']:6} {c['failed']:6} {c['refused']:7}")
    print(f"\n{len(rows)} tests in {time.time() - t0:.1f} s: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['refused']} refused; {not_applicable} not applicable")
    if args.markdown:
        write_markdown(args.markdown, rows, counts, sys.argv)
    if counts["failed"] or not counts["passed"]:
        print("FAIL: " + ("some tests failed" if counts["failed"] else "no test passed"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
