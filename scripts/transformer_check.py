#!/usr/bin/python3
"""Transformers through tpusim: torchvision's ViT, ConvNeXt and Swin, FP32 and W8A8, checked.

torchvision's VisionTransformer, ConvNeXt and SwinTransformer classes, exported by Debian's
python3-torch exactly as torch.onnx writes them (random weights, nothing downloaded).
By default small configurations of the same torchvision classes (the test
`real_models_transformers`); with --full torchvision's vit_b_16, convnext_tiny and swin_t at
224x224. Opset 13 exercises the decomposed LayerNorm and Erf GELU (fused by canonicalization),
opset 17 the LayerNormalization op. Swin adds the shifted-window attention mask (built from
constants by Mod, ScatterND, Not and bool Casts, all folded) and the relative position bias, a
constant added to the attention scores.

Per model and opset, two checks:
- FP32: `tpusim infer --engine fp32` against PyTorch's own output (max |diff| <= 1e-4 * max |ref|,
  cosine >= 0.99999).
- W8A8: `tpusim compile --calib` (mse, four other random images, --save-qdq), then the QDQ model
  through the integer reference (`infer --engine int`) and the simulator on the default and
  server presets (`infer --engine sim`): the simulator's outputs must equal the integer
  reference's exactly, and the output's cosine against PyTorch must be >= 0.98 (--full; the small
  configurations, 10 logits of a 32x32 image, >= 0.95: their small random head amplifies the
  features' error, e.g. ConvNeXt's 0.998 features give 0.975 logits).
- With --ort DIR (where scripts/setup_ort.sh installed onnxruntime-node): ONNX Runtime runs the
  saved QDQ model, and its output's cosine against `tpusim infer --engine fp32` of the same file
  (the same float QDQ arithmetic, an independent implementation) must be >= 0.995. Not equality:
  the two sum in different orders, so a value near a QuantizeLinear's rounding boundary can land
  one step apart, and through ViT-B/16's 12 LayerNorm'd blocks such flips reach the output
  (cosine 0.9988 there; the small models agree exactly).

torchvision zero-initialises ViT's class token and its head; both get random values here (the
token N(0, 1), as large as a patch token, as in a trained model), or the output would not depend
on them. Writes into WORK each model's ONNX files, its input <model>_x.npy, the calibration images
<model>_calib.npy and the outputs. Prints one row per model and opset; exits non-zero on a failed
check.

usage: transformer_check.py TPUSIM WORK [--full] [--opsets 13,17] [--only NAME] [--fp32-only] [--ort DIR]
"""
import argparse
import os
import subprocess
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import numpy as np

try:
    import torch
    import torchvision
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    from torchvision.models.swin_transformer import SwinTransformer
    from torchvision.models.vision_transformer import VisionTransformer
except ImportError as e:
    sys.exit(f"transformer_check.py: {e.name} is missing (apt-get install python3-torch python3-torchvision)")


def models(full):
    """(name, module, image size); the ViT head gets random weights (torchvision zeroes it)."""
    if full:
        vit = torchvision.models.vit_b_16(weights=None)
        cnx = torchvision.models.convnext_tiny(weights=None)
        swin = torchvision.models.swin_t(weights=None)
        size = 224
    else:
        vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128,
                                num_classes=10)
        cnx = ConvNeXt([CNBlockConfig(32, 64, 1), CNBlockConfig(64, None, 2)], num_classes=10)
        swin = SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
                               num_classes=10)
        size = 32
    torch.nn.init.normal_(vit.heads.head.weight, std=0.02)
    torch.nn.init.normal_(vit.class_token, std=1.0)
    return [("vit_b_16" if full else "vit_small", vit.eval(), size),
            ("convnext_tiny" if full else "convnext_small", cnx.eval(), size),
            ("swin_t" if full else "swin_small", swin.eval(), size)]


def run(cmd):
    """Runs a tpusim command; returns (seconds, stderr or None on success)."""
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    return time.time() - t0, (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1] if p.returncode else None


def output(path, shape):
    z = np.load(path)
    return z[z.files[0]].reshape(shape)


def cosine(y, ref):
    return float((y * ref).sum() / (np.linalg.norm(y) * np.linalg.norm(ref)))


def w8a8(a, name, onnx_path, xin, calib, ref):
    """The W8A8 check of one export: (cosine, sim == int on every preset, seconds) or an error."""
    base = onnx_path[:-len(".onnx")]
    qdq = base + "_w8a8.onnx"
    secs, err = run([a.tpusim, "compile", onnx_path, "--calib", calib, "-o", base + ".tpu", "--save-qdq", qdq])
    if err:
        return f"compile: {err}"
    outs = {}
    for engine, arch in [("int", None), ("sim", "default"), ("sim", "server")]:
        out = f"{base}_{engine}{'_' + arch if arch else ''}.npz"
        t, err = run([a.tpusim, "infer", qdq, "--engine", engine, "--input", xin, "-o", out] +
                     (["--arch", arch] if arch else []))
        if err:
            return f"{engine} {arch or ''}: {err}"
        secs += t
        outs[arch or "int"] = output(out, ref.shape)
    exact = all(np.array_equal(outs[k], outs["int"]) for k in ("default", "server"))
    if a.ort:
        # ONNX Runtime on the saved QDQ model against tpusim's float interpretation of it.
        fp = base + "_w8a8_fp32.npz"
        t, err = run([a.tpusim, "infer", qdq, "--engine", "fp32", "--input", xin, "-o", fp])
        if err:
            return f"fp32 of the QDQ model: {err}"
        ort_out = base + "_ort"
        p = subprocess.run(["node", os.path.join(ROOT, "tests", "support", "ort", "run_ort.js"), "--ort-dir", a.ort,
                            qdq, ort_out, f"x={xin}"], capture_output=True, text=True)
        if p.returncode != 0:
            return f"onnxruntime: {(p.stderr.strip().splitlines() or ['exit %d' % p.returncode])[-1]}"
        got = np.load(os.path.join(ort_out, os.listdir(ort_out)[0])).reshape(ref.shape)
        ort_cos = cosine(got, output(fp, ref.shape))
        if ort_cos < 0.995:
            return f"onnxruntime's output of the QDQ model is at cosine {ort_cos:.5f} from tpusim fp32's"
        return cosine(outs["int"], ref), exact, secs, f"{ort_cos:.5f}"
    return cosine(outs["int"], ref), exact, secs, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tpusim")
    ap.add_argument("work")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--opsets", default="13,17")
    ap.add_argument("--only", help="run only this model (vit_small, convnext_small, swin_small, vit_b_16, convnext_tiny, swin_t)")
    ap.add_argument("--fp32-only", action="store_true", help="skip the W8A8 check")
    ap.add_argument("--ort", help="onnxruntime-node's folder: also run the saved QDQ models in ONNX Runtime")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    torch.manual_seed(0)
    failed = False
    print("| model | opset | FP32 max abs diff | max abs ref | FP32 cosine | W8A8 cosine | sim == int | "
          "ORT ~ tpusim (QDQ) | s |\n|---|---|---|---|---|---|---|---|---|")
    for name, m, size in models(a.full):
        if a.only and name != a.only:
            continue
        x = torch.from_numpy(np.random.RandomState(1).randn(1, 3, size, size).astype(np.float32))
        with torch.no_grad():
            ref = m(x).numpy()
        xin = os.path.join(a.work, f"{name}_x.npy")
        np.save(xin, x.numpy())
        calib = os.path.join(a.work, f"{name}_calib.npy")
        np.save(calib, np.random.RandomState(7).randn(4, 3, size, size).astype(np.float32))
        for opset in [int(o) for o in a.opsets.split(",")]:
            onnx_path = os.path.join(a.work, f"{name}_opset{opset}.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(m, x, onnx_path, opset_version=opset, do_constant_folding=True, input_names=["x"])
            out = os.path.join(a.work, f"{name}_opset{opset}_out.npz")
            secs, err = run([a.tpusim, "infer", onnx_path, "--engine", "fp32", "--input", xin, "-o", out])
            if err:
                print(f"| {name} | {opset} | failed: {err} | | | | | |")
                failed = True
                continue
            y = output(out, ref.shape)
            diff, top = float(np.abs(y - ref).max()), float(np.abs(ref).max())
            cos = cosine(y, ref)
            ok = diff <= 1e-4 * top and cos >= 0.99999
            q = ("", "", 0.0, "") if a.fp32_only else w8a8(a, name, onnx_path, xin, calib, ref)
            if isinstance(q, str):
                print(f"| {name} | {opset} | {diff:.2e} | {top:.3f} | {cos:.7f} | failed: {q} | | | |")
                failed = True
                continue
            qcos, exact, qsecs, ort_col = q
            if not a.fp32_only:
                ok = ok and exact and qcos >= (0.98 if a.full else 0.95)
            failed |= not ok
            qcol = "" if a.fp32_only else f"{qcos:.5f}"
            ecol = "" if a.fp32_only else ("yes" if exact else "NO")
            print(f"| {name} | {opset} | {diff:.2e} | {top:.3f} | {cos:.7f} | {qcol} | {ecol} | {ort_col} | "
                  f"{secs + qsecs:.1f} |" +
                  ("" if ok else " FAIL"), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
