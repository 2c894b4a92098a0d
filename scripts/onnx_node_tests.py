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
  failed   tpusim ran and an output differs, or it crashed / exited with a code other than 1 /
           rejected the inputs .npz (a harness bug must not pass for a refusal),
  refused  tpusim exited with code 1 and one `error:` line (an honest, named limitation).
Tests with an op outside the supported list, or with a sequence/optional graph input or output
(tpusim takes tensors only; an .npz cannot hold one), are counted as "not applicable".

Prints a summary per op; exits non-zero when a test failed or when none passed.

A test of several graph inputs is also rerun "(const)": every input but the first made an
initializer holding the data set's value, as exporters write Clip bounds, Q/DQ scales and zero
points, Reshape/Pad targets, weights (tpusim takes those only as constants).

usage: onnx_node_tests.py TPUSIM OUT_DIR [--data DIR] [--markdown docs/onnx-node-tests.md]
                          [--ops Op1,Op2] [--no-const] [--jobs N]
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
import onnx.helper
import onnx.numpy_helper

SUPPORTED = set("""Conv Gemm MatMul Relu Clip MaxPool AveragePool GlobalAveragePool ReduceMean Add Mul
    Sub Div BatchNormalization Sigmoid HardSigmoid HardSwish Tanh LeakyRelu Elu Exp Erf Softplus Gelu
    Concat Flatten Reshape QuantizeLinear DequantizeLinear Pad Identity Dropout Constant Shape Gather
    Unsqueeze Squeeze Cast ConstantOfShape Range Slice Transpose Neg Sqrt Split Resize QLinearConv QLinearMatMul
    ConvInteger MatMulInteger Softmax LayerNormalization Pow Equal Where Expand Mod ScatterND Not""".split())
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
    to_np = getattr(onnx.helper, "tensor_dtype_to_np_dtype", None)  # onnx >= 1.13
    kind = np.dtype(to_np(elem) if to_np else onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem]).kind
    return kind in "iub"


def compare(expected, got):
    """None when `got` matches `expected`, else a short description of the difference."""
    if expected.shape != got.shape:
        return f"shape {list(got.shape)}, expected {list(expected.shape)}"
    if expected.dtype.kind in "iub":
        diff = np.abs(expected.astype(np.int64) - got.astype(np.int64)) if expected.size else np.zeros(1)
        return None if diff.max() <= INT_TOL else f"max |diff| {diff.max()} (> {INT_TOL} LSB)"
    if expected.dtype.kind == "f":
        e, g = expected.astype(np.float64), got.astype(np.float64)
        if np.allclose(g, e, rtol=RTOL, atol=ATOL, equal_nan=True):
            return None
        nan_mismatch = np.isnan(e) != np.isnan(g)
        diff = np.abs(e - g)[~np.isnan(e) & ~np.isnan(g)]
        return f"max |diff| {diff.max() if diff.size else 0:.4g}" + (" (NaN mismatch)" if nan_mismatch.any() else "")
    return None if np.array_equal(expected, got) else "values differ"


def engine_for(model, ops, fed):
    """sim for QDQ models and models with integer inputs/outputs, else fp32."""
    values = [v for v in model.graph.input if v.name in fed] + list(model.graph.output)
    return "sim" if QDQ & set(ops) or any(is_int_type(v) for v in values) else "fp32"


def run_test(tpusim, test_dir, work, ops, const_params):
    """(engine, result, detail) of one node test over all its data sets. With const_params, every
    graph input but the first becomes an initializer holding the data set's value."""
    model_path = os.path.join(test_dir, "model.onnx")
    model = onnx.load(model_path)
    inits = {i.name for i in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in inits]
    outputs = [o.name for o in model.graph.output]
    fed = inputs[:1] if const_params else inputs
    engine = engine_for(model, ops, set(fed))
    name = os.path.basename(test_dir) + (".const" if const_params else "")
    for ds in sorted(glob.glob(os.path.join(test_dir, "test_data_set_*"))):
        tag = f"{name}.{os.path.basename(ds)}"
        in_files = sorted(glob.glob(os.path.join(ds, "input_*.pb")), key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
        arrays = {inputs[k]: load_tensor(p) for k, p in enumerate(in_files)}
        run_path = model_path
        if const_params:
            m = onnx.ModelProto()
            m.CopyFrom(model)
            consts = [n for n in inputs[1:] if n in arrays]
            m.graph.initializer.extend(onnx.numpy_helper.from_array(arrays.pop(n), n) for n in consts)
            keep = [v for v in m.graph.input if v.name not in consts]
            del m.graph.input[:]
            m.graph.input.extend(keep)
            run_path = os.path.join(work, tag + ".onnx")
            onnx.save(m, run_path)
        in_npz, out_npz = os.path.join(work, tag + ".in.npz"), os.path.join(work, tag + ".out.npz")
        np.savez(in_npz, **arrays)
        cmd = [tpusim, "infer", run_path, "-i", in_npz, "-o", out_npz, "--engine", engine]
        if engine == "sim":
            cmd += ["--arch", "default"]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return engine, "failed", f"timed out after {TIMEOUT} s"
        if p.returncode != 0:
            errs = [line for line in p.stderr.splitlines() if line.startswith("error:")]
            if p.returncode == 1 and errs and in_npz not in errs[-1]:  # else our inputs are wrong
                return engine, "refused", errs[-1].split(run_path + ": ", 1)[-1].removeprefix("error: ")
            last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
            return engine, "failed", f"exit code {p.returncode}: {last}"[:200]
        compared = 0
        with np.load(out_npz) as got:
            for k, out in enumerate(outputs):
                exp_path = os.path.join(ds, f"output_{k}.pb")
                if not os.path.exists(exp_path):
                    continue
                if npz_name(out) not in got:
                    return engine, "failed", f"output '{out}' missing from {os.path.basename(out_npz)}"
                diff = compare(load_tensor(exp_path), got[npz_name(out)])
                if diff:
                    return engine, "failed", f"{os.path.basename(ds)} output '{out}': {diff}"
                compared += 1
        if not compared:
            return engine, "failed", f"{os.path.basename(ds)}: no expected output to compare"
    return engine, "passed", ""


def totals(c):
    return (f"{c['passed']} passed, {c['failed']} failed, {c['refused']} refused (as given: "
            f"{c['passed plain']}/{c['failed plain']}/{c['refused plain']}, (const): "
            f"{c['passed const']}/{c['failed const']}/{c['refused const']})")


def write_markdown(path, rows, counts):
    lines = ["# ONNX backend node tests through tpusim", "",
             "Generated by `scripts/onnx_node_tests.py`; do not edit. Regenerate with", "", "```",
             "/usr/bin/python3 scripts/onnx_node_tests.py build/tpusim /tmp/onnx_node_tests "
             "--markdown docs/onnx-node-tests.md", "```", "",
             "Every node test of ONNX's test data (Debian's libonnx-testdata) whose ops are all ones tpusim",
             "supports (docs/compiler.md, \"Operators\"): float tests on the FP32 interpreter, QDQ and integer",
             f"tests on the simulator (`default` arch). Floats compared within rtol {RTOL} / atol {ATOL},",
             f"integers within {INT_TOL} LSB. Refused = tpusim declined the model with a one-line error.",
             "Rows named `(const)` rerun a test of several inputs with every input but the first made an",
             "initializer (tpusim takes Clip bounds, Q/DQ scales, Reshape/Pad targets... only as constants).", "",
             f"Totals: {totals(counts)}; {counts['n/a']} tests not applicable (an op tpusim does not",
             "support, or a sequence/optional input or output).", "",
             "| test | ops | engine | result | detail |", "|---|---|---|---|---|"]
    for name, ops, engine, result, detail in rows:
        detail = detail.replace("|", "\\|")
        lines.append(f"| {name} | {', '.join(ops)} | {engine} | {result} | {detail} |")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("tpusim")
    ap.add_argument("out_dir")
    ap.add_argument("--data", default="/usr/share/libonnx-testdata/data/node")
    ap.add_argument("--markdown")
    ap.add_argument("--ops", help="only tests holding one of these ops (comma-separated)")
    ap.add_argument("--no-const", action="store_true", help="skip the (const) reruns")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    tpusim = os.path.abspath(args.tpusim)
    if not os.access(tpusim, os.X_OK):
        sys.exit(f"{tpusim}: not an executable")
    os.makedirs(args.out_dir, exist_ok=True)
    only = set(args.ops.split(",")) if args.ops else None
    if only and not only <= SUPPORTED:
        sys.exit(f"--ops: not supported by tpusim: {', '.join(sorted(only - SUPPORTED))}")

    runs, not_applicable = [], 0  # (test dir, ops, const_params)
    for d in sorted(glob.glob(os.path.join(args.data, "test_*"))):
        model = onnx.load(os.path.join(d, "model.onnx"))
        ops = sorted({n.op_type for n in model.graph.node})
        values = list(model.graph.input) + list(model.graph.output)
        if not ops or not set(ops) <= SUPPORTED or not all(v.type.HasField("tensor_type") for v in values):
            not_applicable += 1
            continue
        if only and not only & set(ops):
            continue
        runs.append((d, ops, False))
        inits = {i.name for i in model.graph.initializer}
        if not args.no_const and len([v for v in model.graph.input if v.name not in inits]) > 1:
            runs.append((d, ops, True))
    if not runs:
        sys.exit(f"no applicable node tests under {args.data}")

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda r: run_test(tpusim, r[0], args.out_dir, r[1], r[2]), runs))
    rows = [(os.path.basename(d) + (" (const)" if const else ""), ops, *res)
            for (d, ops, const), res in zip(runs, results)]

    per_op = collections.defaultdict(collections.Counter)
    counts = collections.Counter({"passed": 0, "failed": 0, "refused": 0, "n/a": not_applicable})
    for name, ops, engine, r, detail in rows:
        counts[r] += 1
        counts[r + (" const" if name.endswith("(const)") else " plain")] += 1
        for op in ops:
            per_op[op][r + (" (const)" if name.endswith("(const)") else "")] += 1
        if r != "passed":
            print(f"{r.upper():8} {name} [{engine}]: {detail}")
    cols = ["passed", "failed", "refused"]
    print(f"\n{'op':20}" + "".join(f"{c:>9}" for c in cols) + "   (const:" + "".join(f"{c:>9}" for c in cols) + ")")
    for op in sorted(per_op):
        c = per_op[op]
        print(f"{op:20}" + "".join(f"{c[k]:9}" for k in cols) + "          " + "".join(f"{c[k + ' (const)']:9}" for k in cols))
    print(f"\n{len(rows)} runs in {time.time() - t0:.1f} s: {totals(counts)}; {not_applicable} tests not applicable")
    if args.markdown:
        write_markdown(args.markdown, rows, counts)
    if counts["failed"] or not counts["passed"]:
        print("FAIL: " + ("some tests failed" if counts["failed"] else "no test passed"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
