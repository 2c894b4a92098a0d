#!/usr/bin/python3
"""Exports torchvision CNNs to ONNX exactly as torch.onnx writes them, for tpusim's real-model tests
and benchmarks. Nothing is downloaded: the weights are torchvision's random initialisation. With
--bn estimate the BatchNormalization statistics are re-estimated on random images (training-mode
forward passes): activations then keep unit scale through deep networks (EfficientNet's otherwise
vanish to 1e-14), but such random networks are chaotic: 40 dB of input noise alone costs ResNet-50's
FP32 output a cosine of 0.92, so quantization error looks far worse than on trained weights.

Writes, into OUT: <model>_opset<N>.onnx for every model and opset, calib.npy (calibration images),
images.npy (test images) and image1.npy (the first of them), float32 [N, 3, S, S], ImageNet-normalised
uniform noise, and <model>_torch.npy: PyTorch's own output on images.npy (the FP32 reference).

usage: export_torchvision.py OUT [--models a,b,c] [--opsets 13,17] [--size 64] [--calib 16] [--images 2]
                             [--bn auto|default|estimate]
--bn auto (the default) re-estimates only where torchvision's initialisation makes the output vanish
(std < 1e-3: MobileNetV2/V3, EfficientNet, MnasNet).
"""
import argparse
import os
import sys
import tempfile

import numpy as np

try:
    import torch
    import torchvision
except ImportError as e:  # one line, as every tpusim tool fails
    sys.exit(f"export_torchvision.py: {e.name} is missing (apt-get install python3-torch python3-torchvision)")

TORCHVISION = ("resnet18 resnet50 mobilenet_v2 mobilenet_v3_small efficientnet_b0 squeezenet1_0 shufflenet_v2_x0_5 "
               "googlenet densenet121 regnet_x_400mf mnasnet0_5 vgg11 alexnet").split()
# Dense-prediction pieces built from torchvision parts, for the data movement torch.onnx writes
# around them: fpn_resnet18 (a ResNet-18 body and torchvision.ops.FeaturePyramidNetwork: nearest
# Resize to a computed size, the finest level as output) and focus_resnet18 (YOLOv5's Focus stem:
# four strided Slices along H and W, concatenated, then a ResNet-18 at half resolution).
EXTRA = ("fpn_resnet18", "focus_resnet18")
ALL = TORCHVISION + list(EXTRA)
# Models whose adaptive pools need the input to be a multiple of 32 * 7 (vgg) or 224 (alexnet) export
# only at 224.
NEEDS_224 = {"vgg11", "alexnet"}


def images(n, size, seed):
    rng = np.random.RandomState(seed)
    x = rng.rand(n, 3, size, size).astype(np.float32)
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    return (x - mean) / std


class Fpn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        from torchvision.models._utils import IntermediateLayerGetter
        from torchvision.ops import FeaturePyramidNetwork
        body = torchvision.models.resnet18(weights=None)
        self.body = IntermediateLayerGetter(body, {"layer2": "p3", "layer3": "p4", "layer4": "p5"})
        self.fpn = FeaturePyramidNetwork([128, 256, 512], 64)

    def forward(self, x):
        return self.fpn(self.body(x))["p3"]


class Focus(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torchvision.models.resnet18(weights=None)
        self.net.conv1 = torch.nn.Conv2d(12, 64, 7, 2, 3, bias=False)

    def forward(self, x):
        x = torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)
        return self.net(x)


def build(name, size, bn):
    kw = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    torch.manual_seed(0)
    if name in EXTRA:
        m = Fpn() if name == "fpn_resnet18" else Focus()
        return m.eval()
    m = getattr(torchvision.models, name)(weights=None, **kw)
    m.eval()
    if bn == "default" or bn == "auto":
        with torch.no_grad():
            scale = m(torch.from_numpy(images(2, size, 100))).std().item()
        if bn == "default" or scale > 1e-3:
            return m
    # BatchNorm statistics from random images: cumulative averages over a few batches.
    for mod in m.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.reset_running_stats()
            mod.momentum = None
    m.train()
    with torch.no_grad():
        for seed in range(4):
            m(torch.from_numpy(images(8, size, 100 + seed)))
    return m.eval()


def save(path, write):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--models", default=",".join(ALL))
    ap.add_argument("--opsets", default="13,17")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--calib", type=int, default=16)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--bn", choices=("auto", "default", "estimate"), default="auto")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for n in a.models.split(","):
        if n not in ALL:
            sys.exit(f"export_torchvision.py: unknown model '{n}' (one of: {', '.join(ALL)})")
    sizes = {a.size} | ({224} if any(n in NEEDS_224 for n in a.models.split(",")) else set())
    for s in sorted(sizes):
        suffix = "" if s == a.size else f"_{s}"
        save(os.path.join(a.out, f"calib{suffix}.npy"), lambda p: np.save(open(p, "wb"), images(a.calib, s, 1)))
        save(os.path.join(a.out, f"images{suffix}.npy"), lambda p: np.save(open(p, "wb"), images(a.images, s, 2)))
        save(os.path.join(a.out, f"image1{suffix}.npy"), lambda p: np.save(open(p, "wb"), images(1, s, 2)))
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    for n in a.models.split(","):
        size = 224 if n in NEEDS_224 else a.size
        m = build(n, size, a.bn)
        x = torch.from_numpy(images(1, size, 3))
        with torch.no_grad():
            y = m(torch.from_numpy(images(a.images, size, 2))).numpy()
        save(os.path.join(a.out, f"{n}_torch.npy"), lambda p: np.save(open(p, "wb"), y))
        for opset in (int(o) for o in a.opsets.split(",")):
            path = os.path.join(a.out, f"{n}_opset{opset}.onnx")
            save(path, lambda p: torch.onnx.export(m, x, p, opset_version=opset, input_names=["x"],
                                                   output_names=["y"]))
            print(f"{path} ({size}x{size})", flush=True)


if __name__ == "__main__":
    main()
