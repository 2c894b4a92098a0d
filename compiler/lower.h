// Quantized lowering: the float graph of a QDQ model (QuantizeLinear/DequantizeLinear nodes around
// float ops, as ONNX Runtime's quantizer, PyTorch's exporter and tpusim's QAT write it) -> the
// integer graph of int_graph.h. Rules (docs/compiler.md, "Quantized lowering"):
//
// - DequantizeLinear(constant int8/int4) -> symmetric per-output-channel weights (uint8 with zero
//   point 128 / uint4 with 8 are the same grid and become int8/int4); any other zero point is
//   an error. Q -> DQ on activations -> an integer tensor with that scale/zero point.
// - Conv/Gemm/MatMul on a dequantized input, [+ constant bias Add], [Relu/Clip...], then Q ->
//   IConv/IMatmul: int32 bias = round_half_even(b / (s_in * s_w[c])), (M0, shift) per channel from
//   s_in * s_w[c] / s_out, Relu/Clip as clamps [Q(lo), Q(hi)].
// - MaxPool/AveragePool/GlobalAveragePool -> IPool (an average onto a finer grid with the same
//   count in every window: a depthwise IConv with unit weights, one rounding instead of two);
//   Add/Mul of two quantized tensors -> IEltwise
//   (Add: both inputs rescaled to a common scale 2*max(s_a, s_b) / 2^20, as TFLite);
//   DQ [-> Relu/Clip] -> Q with other parameters -> IRequant; Concat -> IConcat (+ IRequant of the
//   inputs whose parameters differ); Flatten/Reshape -> views.
// - The float model input must feed QuantizeLinear (the host quantizes it); model outputs must be
//   DequantizeLinear outputs (or integer tensors).
//
// Anything else is one tpusim::Error naming the node and op type:
//   "m.onnx: node 'conv1' (Conv): weight 'w1' is asymmetric: zero point 3 in channel 0 (...)"
#pragma once
#include "compiler/graph.h"
#include "compiler/int_graph.h"

namespace tpusim::compiler {

IntGraph lower_qdq(const Graph& g);

}  // namespace tpusim::compiler
