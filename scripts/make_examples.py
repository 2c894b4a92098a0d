#!/usr/bin/python3
"""Writes the example inputs of docs/tutorial-byom.md and docs/compare.md into DIR: a small FP32 CNN
as an ONNX model and random float32 images for it. Deterministic (fixed seeds), no network; needs
only numpy and onnx.

usage: /usr/bin/python3 scripts/make_examples.py DIR

DIR/cnn_fp32.onnx  opset 13, input 'x' float32 [1, 1, 28, 28] (fixed batch of 1, as torch.onnx
                   exports by default), output 'y' float32 [1, 10] (logits, no Softmax):
                   Conv 3x3 (8) -> Relu -> MaxPool 2 -> Conv 3x3 (16) -> Relu -> MaxPool 2
                   -> Flatten -> Gemm (10). Random He-initialised weights: the model computes
                   nothing useful, it only exercises the commands.
DIR/calib.npy      float32 [64, 1, 28, 28]: calibration samples, pixels in [0, 1]
DIR/x.npy          float32 [1, 1, 28, 28]: one input image
DIR/images.npy     float32 [4, 1, 28, 28]: four input images (a batch for a batch-1 model)
"""
import os
import sys

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # one line, as every tpusim tool fails
    sys.exit("make_examples.py: onnx is missing (apt-get install python3-onnx)")


def he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def cnn(rng):
    inits = [
        numpy_helper.from_array(he(rng, (8, 1, 3, 3), 9), "conv1.w"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "conv1.b"),
        numpy_helper.from_array(he(rng, (16, 8, 3, 3), 72), "conv2.w"),
        numpy_helper.from_array((rng.standard_normal(16) * 0.1).astype(np.float32), "conv2.b"),
        numpy_helper.from_array(he(rng, (10, 16 * 7 * 7), 16 * 7 * 7), "fc.w"),
        numpy_helper.from_array((rng.standard_normal(10) * 0.1).astype(np.float32), "fc.b"),
    ]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    pool = dict(kernel_shape=[2, 2], strides=[2, 2])
    nodes = [
        helper.make_node("Conv", ["x", "conv1.w", "conv1.b"], ["conv1"], name="conv1", **conv),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("MaxPool", ["relu1"], ["pool1"], name="pool1", **pool),
        helper.make_node("Conv", ["pool1", "conv2.w", "conv2.b"], ["conv2"], name="conv2", **conv),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        helper.make_node("MaxPool", ["relu2"], ["pool2"], name="pool2", **pool),
        helper.make_node("Flatten", ["pool2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "cnn_fp32",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, producer_name="tpusim scripts/make_examples.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7  # opset 13's IR version: readable by older ONNX tools too
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: make_examples.py DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    onnx.save(cnn(np.random.default_rng(1)), os.path.join(out, "cnn_fp32.onnx"))
    rng = np.random.default_rng(2)
    images = {"calib.npy": 64, "x.npy": 1, "images.npy": 4}
    for name, n in images.items():
        np.save(os.path.join(out, name), rng.random((n, 1, 28, 28), dtype=np.float32))
    print(f"make_examples.py: wrote cnn_fp32.onnx, {', '.join(images)} into {out}")


if __name__ == "__main__":
    main()
