// The FP32 interpreter: runs the graph in float, node by node, untiled. QuantizeLinear and
// DequantizeLinear follow ONNX (quant/quantize.h quantize_linear / dequantize_linear), so a QDQ
// model runs as ONNX Runtime runs it: quantized tensors hold their integers (Tensor::ints),
// float tensors Tensor::f32. It is the float side of per-layer FP32-vs-quantized comparisons.
#pragma once
#include <map>
#include <string>

#include "compiler/graph.h"

namespace tpusim::compiler {

using TensorMap = std::map<std::string, Tensor>;

// `inputs` gives every graph input, with the input's shape (or the same element count) and
// element type (float data for float32 inputs). Returns every non-constant tensor - the inputs,
// each node's output and the graph outputs - by name. Throws Error naming a missing or
// mis-shaped input.
TensorMap run_fp32(const Graph& g, const TensorMap& inputs);

}  // namespace tpusim::compiler
