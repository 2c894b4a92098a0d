#!/usr/bin/python3
"""Transformers through tpusim's FP32 front end: torchvision's VisionTransformer and ConvNeXt,
exported by Debian's python3-torch exactly as torch.onnx writes them (random weights, nothing
downloaded), run by `tpusim infer --engine fp32` and compared with PyTorch's own output. By default
small configurations of the same torchvision classes (the test `real_models_transformers`); with
--full torchvision's vit_b_16 and convnext_tiny at 224x224. Opset 13 exercises the decomposed
LayerNorm and Erf GELU (fused by canonicalization), opset 17 the LayerNormalization op.

Writes into WORK each model's ONNX files, its input <model>_x.npy and four calibration images
<model>_calib.npy (for quantized runs by hand). Prints one row per model and opset (max |diff|, max |reference|, cosine, wall seconds); exits
non-zero when an output differs by more than 1e-4 * max |reference| or the cosine is below 0.99999.

usage: transformer_check.py TPUSIM WORK [--full] [--opsets 13,17]
"""
import argparse
import os
import subprocess
import sys
import time
import warnings

import numpy as np

try:
    import torch
    import torchvision
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    from torchvision.models.vision_transformer import VisionTransformer
except ImportError as e:
    sys.exit(f"transformer_check.py: {e.name} is missing (apt-get install python3-torch python3-torchvision)")


def models(full):
    """(name, module, image size); the ViT head gets random weights (torchvision zeroes it)."""
    if full:
        vit = torchvision.models.vit_b_16(weights=None)
        cnx = torchvision.models.convnext_tiny(weights=None)
        size = 224
    else:
        vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128,
                                num_classes=10)
        cnx = ConvNeXt([CNBlockConfig(32, 64, 1), CNBlockConfig(64, None, 2)], num_classes=10)
        size = 32
    torch.nn.init.normal_(vit.heads.head.weight, std=0.02)
    return [("vit_b_16" if full else "vit_small", vit.eval(), size),
            ("convnext_tiny" if full else "convnext_small", cnx.eval(), size)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tpusim")
    ap.add_argument("work")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--opsets", default="13,17")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    torch.manual_seed(0)
    failed = False
    print("| model | opset | max abs diff | max abs ref | cosine | infer s |\n|---|---|---|---|---|---|")
    for name, m, size in models(a.full):
        x = torch.from_numpy(np.random.RandomState(1).randn(1, 3, size, size).astype(np.float32))
        with torch.no_grad():
            ref = m(x).numpy()
        xin = os.path.join(a.work, f"{name}_x.npy")
        np.save(xin, x.numpy())
        # Calibration images for quantized runs (`tpusim infer --engine int --calib`), not used here.
        np.save(os.path.join(a.work, f"{name}_calib.npy"),
                np.random.RandomState(7).randn(4, 3, size, size).astype(np.float32))
        for opset in [int(o) for o in a.opsets.split(",")]:
            onnx_path = os.path.join(a.work, f"{name}_opset{opset}.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(m, x, onnx_path, opset_version=opset, do_constant_folding=True)
            out = os.path.join(a.work, f"{name}_opset{opset}_out.npz")
            t0 = time.time()
            p = subprocess.run([a.tpusim, "infer", onnx_path, "--engine", "fp32", "--input", xin, "-o", out],
                               capture_output=True, text=True)
            secs = time.time() - t0
            if p.returncode != 0:
                print(f"| {name} | {opset} | failed: {p.stderr.strip()} | | | |")
                failed = True
                continue
            z = np.load(out)
            y = z[z.files[0]].reshape(ref.shape)
            diff, top = float(np.abs(y - ref).max()), float(np.abs(ref).max())
            cos = float((y * ref).sum() / (np.linalg.norm(y) * np.linalg.norm(ref)))
            ok = diff <= 1e-4 * top and cos >= 0.99999
            failed |= not ok
            print(f"| {name} | {opset} | {diff:.2e} | {top:.3f} | {cos:.7f} | {secs:.1f} |" + ("" if ok else " FAIL"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
