// Canonicalization: the passes between ONNX import and everything else. They rewrite a graph as
// exporters write it (torch.onnx, onnxruntime's quantizer, tpusim's own) into the op set the
// compiler lowers, and infer every shape. In order, one file each (docs/compiler.md):
//   bypass_identity   Identity and inference-mode Dropout: consumers read their input
//   fuse_transformer  the decomposed LayerNormalization and Erf GELU of torch.onnx -> one op each
//   fold_constants    a walk in graph order: nodes computable now (const_eval.h) become constants,
//                     Sub/Div by constants become Add/Mul, ReduceMean over H and W becomes
//                     GlobalAveragePool, a channel Slice or Split becomes ChannelGather,
//                     other Slices and Splits, Transposes and nearest Resizes become Rearrange,
//                     QLinearConv/QLinearMatMul become their QDQ form, Reshape targets computed by shape
//                     subgraphs are resolved, and every remaining node's shape is inferred
//   fold_pad          a constant Pad into the Conv/AveragePool/MaxPool it feeds
//   fuse_channel_shuffle  Reshape -> Transpose {0,2,1,3,4} (a Rearrange by then) -> Reshape
//                     (ShuffleNet) -> ChannelGather
//   fuse_pointwise    Mul(x, Sigmoid(x)) -> Silu(x), Mul(x, HardSigmoid(x)) -> HardSwish(x): one
//                     function of x, one table once quantized (instead of two roundings)
//   narrow_storage    an activation quantized into int8/uint8 whose integers provably fit int4/uint4
//                     (Clip -> QuantizeLinear, the sub-8-bit export form) is stored in the 4-bit type
// What is left of the ops only canonicalization handles is then refused, naming the node.
#pragma once
#include <optional>
#include <vector>

#include "compiler/graph.h"

namespace tpusim::compiler {

struct CanonStats {
  int bypassed = 0;   // Identity/Dropout nodes removed
  int folded = 0;     // nodes replaced by constants
  int rewritten = 0;  // Sub/Div/ReduceMean rewritten into other ops
  int pads = 0;       // Pad nodes folded or removed
  int fused = 0;      // Mul(x, f(x)), decomposed LayerNorm/GELU fused into one op
  int shuffles = 0;   // channel shuffles fused into a ChannelGather
  int narrowed = 0;   // activations stored in 4 bits instead of 8
};

// The whole pipeline; leaves g topologically sorted with every shape inferred.
CanonStats canonicalize(Graph& g);

// The passes (canonicalize runs them in this order).
int bypass_identity(Graph& g);
int fuse_transformer(Graph& g);
void fold_constants(Graph& g, CanonStats& stats);
int fold_pad(Graph& g);
int fuse_pointwise(Graph& g);
int fuse_channel_shuffle(Graph& g);
int narrow_storage(Graph& g);

// Rewrites one node, before its shape is inferred, into the ops that follow it in the compiler
// (Sub/Div by a constant -> Add/Mul; ReduceMean over H, W -> GlobalAveragePool [+ Reshape]).
// Returns the replacement nodes (new tensors added to g), or nothing when n stays as it is.
std::vector<Node> rewrite_node(Graph& g, const Node& n);
// A node replacing `from` (named "<from>/<tag>", or from's name for an empty tag) with one output.
Node make_node(const Node& from, Op op, std::vector<std::string> in, std::string out, Attrs a,
               const char* tag);
// A Split's output sizes along `axis`: the `split` input (opset >= 13) or attribute, else equal
// parts (the last one smaller, opset 18); nothing when the input is not a constant; fails when
// they do not add up to the axis or one is empty.
std::optional<std::vector<int64_t>> split_sizes(Graph& g, const Node& n, size_t axis);
// Transpose, Slice/Split along any axes, nearest Resize of an activation -> Rearrange
// (pass_rewrite_rearrange.cpp); nothing for a constant input; one-line refusal when impossible.
std::vector<Node> rewrite_rearrange(Graph& g, const Node& n);
// QLinearConv / QLinearMatMul -> DequantizeLinear (input, weights, bias) -> Conv / MatMul ->
// QuantizeLinear (pass_expand_qlinear.cpp); nothing when an operand is not constant.
std::vector<Node> expand_qlinear(Graph& g, const Node& n);
// ConvInteger / MatMulInteger -> DequantizeLinear (scale 1) -> Conv / MatMul -> QuantizeLinear to
// int32 at scale 1: the accumulator as the output (pass_expand_qlinear.cpp); nothing when the
// weights or zero points are not constant.
std::vector<Node> expand_integer(Graph& g, const Node& n);

// ONNX auto_pad as written (NOTSET, VALID: explicit pads; SAME_UPPER, SAME_LOWER: resolved by shape
// inference); anything else fails naming the node.
AutoPad parse_auto_pad(const Graph& g, const Node& n, const std::string& auto_pad);

// Why a node of a canonicalization-only op cannot stay, for the one-line refusal.
std::string why_left(const Node& n);

}  // namespace tpusim::compiler
