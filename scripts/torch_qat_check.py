#!/usr/bin/python3
"""A PyTorch QAT model through tpusim exactly as torch.onnx writes it: torch.ao eager-mode QAT with
fused ConvBnReLU2d modules and per-channel symmetric int8 weights (FakeQuantize modules, which
torch.onnx exports as QuantizeLinear/DequantizeLinear around Conv -> Div -> Add ->
BatchNormalization), trained a few steps on random data, exported at opset 13, then run by
`tpusim infer --engine sim` (and --engine int) and compared with PyTorch's own fake-quant forward:
at least 99% of output elements within one output quantization step. Exits non-zero otherwise.

usage: torch_qat_check.py TPUSIM WORK [--arch default] [--images 64]
"""
import argparse
import os
import subprocess
import sys

import numpy as np

try:
    import torch
    import torch.ao.quantization as tq
    import torch.nn as nn
except ImportError as e:
    sys.exit(f"torch_qat_check.py: {e.name} is missing (apt-get install python3-torch)")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv1, self.bn1, self.relu1 = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2, self.bn2, self.relu2 = nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU()
        self.conv3, self.bn3, self.relu3 = nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.ReLU()
        self.fc = nn.Linear(16 * 14 * 14, 10)

    def forward(self, x):
        x = self.pool(self.relu1(self.bn1(self.conv1(self.quant(x)))))
        x = self.relu3(self.bn3(self.conv3(self.relu2(self.bn2(self.conv2(x))))))
        return self.dequant(self.fc(torch.flatten(x, 1)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tpusim")
    ap.add_argument("work")
    ap.add_argument("--arch", default="default")
    ap.add_argument("--images", type=int, default=64)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    torch.manual_seed(0)
    m = Net().train()
    # FakeQuantize (not the fused observer of the default qconfig, which torch.onnx cannot export).
    m.qconfig = tq.QConfig(
        activation=tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                             dtype=torch.quint8),
        weight=tq.FakeQuantize.with_args(observer=tq.MovingAveragePerChannelMinMaxObserver, quant_min=-128,
                                         quant_max=127, dtype=torch.qint8, qscheme=torch.per_channel_symmetric))
    tq.fuse_modules_qat(m, [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"], ["conv3", "bn3", "relu3"]],
                        inplace=True)
    tq.prepare_qat(m, inplace=True)
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    for _ in range(20):  # moves weights, BN statistics and the observed ranges off their initial values
        x = torch.randn(16, 1, 28, 28)
        loss = nn.functional.cross_entropy(m(x), torch.randint(0, 10, (16,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.apply(tq.disable_observer)
    m.apply(torch.nn.intrinsic.qat.freeze_bn_stats)
    m.eval()
    model = os.path.join(a.work, "qat.onnx")
    torch.onnx.export(m, torch.randn(1, 1, 28, 28), model, opset_version=13, input_names=["x"], output_names=["y"])
    x = torch.randn(a.images, 1, 28, 28)
    with torch.no_grad():
        want = m(x).numpy()
    step = float(m.fc.activation_post_process.scale)
    np.save(os.path.join(a.work, "x.npy"), x.numpy())
    ok = True
    for engine in ("sim", "int"):
        out = os.path.join(a.work, f"{engine}.npz")
        cmd = [a.tpusim, "infer", model, "-i", os.path.join(a.work, "x.npy"), "-o", out, "--engine", engine]
        if engine == "sim":
            cmd += ["--arch", a.arch]
        subprocess.run(cmd, check=True)
        got = np.load(out)["y"]
        diff = np.abs(got - want) / step
        within = float(np.mean(diff <= 1 + 1e-4))
        print(f"{engine}: {100 * within:.2f}% of {diff.size} outputs within one step ({step:.4g}) of PyTorch's "
              f"fake-quant forward; max {diff.max():.2f} steps, {np.mean(diff < 1e-4) * 100:.2f}% equal")
        ok = ok and within >= 0.99 and got.shape == want.shape
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
