// The operators of the graph IR and their typed attributes. One table (ops.cpp) maps the enum to
// its ONNX name; ids are internal (never serialised).
//
// Conventions, fixed at import so later passes never re-read ONNX:
// - 2-D spatial ops only (NCHW). pads are {top, left, bottom, right}.
// - Optional inputs that are absent are "" (as in ONNX): Conv bias, Gemm C.
// - Clip bounds, the Reshape target and the QuantizeLinear/DequantizeLinear parameters are
//   constants resolved into attributes; the node's only input is the data tensor.
// - ChannelAffine is not an ONNX op: y[n,c,...] = x[n,c,...] * scale[c] + shift[c], what a
//   BatchNormalization that cannot be folded into a Conv/Gemm becomes (inputs x, scale, shift).
#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "compiler/tensor.h"

namespace tpusim::compiler {

enum class Op : uint8_t {
  Conv,
  Gemm,
  MatMul,
  Relu,
  Clip,
  MaxPool,
  AveragePool,
  GlobalAveragePool,
  Add,
  Mul,
  Flatten,
  Reshape,
  BatchNormalization,
  Concat,
  QuantizeLinear,
  DequantizeLinear,
  ChannelAffine,
  // Pointwise functions of one tensor (pointwise.h): FP32 kernels, and a look-up table once
  // quantized (the compiler fills it as quantize(f(dequantize(q))) for every input code).
  Sigmoid,
  HardSigmoid,
  HardSwish,
  Tanh,
  LeakyRelu,
  Elu,
  Exp,
  Erf,
  Softplus,
  Gelu,
  Silu,  // IR-only: Mul(x, Sigmoid(x)) fused by canonicalization
  // IR-only: y[:, c] = x[:, channels[c]] (GatherAttrs): a channel shuffle or a Slice along the
  // channels, found by canonicalization; a GDMA copy once quantized.
  ChannelGather,
  // IR-only: y = a strided view of x (RearrangeAttrs, rearrange.h): a Transpose, a Slice or Split
  // along any axes, a nearest Resize by integer scales; GDMA copies once quantized.
  Rearrange,
  // Normalisations over trailing axes (SoftmaxAttrs, LayerNormAttrs): FP32 kernels; transformers.
  Softmax,
  LayerNormalization,
  // Removed by canonicalization (canonicalize.h) before any pass that needs static shapes:
  // Identity/Dropout are bypassed, shape computations are folded into constants, Sub/Div by
  // constants become Add/Mul, ReduceMean over H and W becomes GlobalAveragePool, Pad is folded
  // into the Conv/pool after it. What is left of them afterwards is refused, naming the node.
  Identity,
  Dropout,
  Shape,
  Gather,
  Unsqueeze,
  Squeeze,
  Cast,
  ConstantOfShape,
  Range,
  Slice,
  Transpose,
  Sub,
  Div,
  Neg,
  Sqrt,
  Pad,
  ReduceMean,
  Split,      // along the channels: one ChannelGather per output; along other axes: Rearranges
  Resize,     // nearest, integer scales: a Rearrange
  Pow,        // constants only, or the x^2 of a decomposed LayerNormalization (pass_fuse_layernorm.cpp)
  Equal,      // constants only (torch.onnx's shape arithmetic around Expand)
  Where,      // constants only
  Expand,     // constants only (ViT's class token)
  Mod,        // constants only (torch.onnx's shape arithmetic: Swin's window padding)
  ScatterND,  // constants only (Swin's shifted-window attention mask)
  Not,        // constants only (a boolean mask, 0/1)
  // Quantized-operator forms (onnxruntime's QOperator format): QLinearConv/QLinearMatMul become
  // DequantizeLinear -> Conv/MatMul -> QuantizeLinear (pass_expand_qlinear.cpp); the integer-output
  // ops of dynamic quantization are refused with the reason.
  QLinearConv,
  QLinearMatMul,
  ConvInteger,
  MatMulInteger,
};

const char* op_name(Op op);  // the ONNX op type ("Conv"); "ChannelAffine" for the IR-only op
std::optional<Op> op_from_onnx(std::string_view op_type);  // ONNX-importable ops only

// ONNX auto_pad SAME_UPPER / SAME_LOWER: shape inference turns it into explicit pads (output
// ceil(in / stride), the odd pad at the end or the start) and clears it. VALID is pads 0.
enum class AutoPad : uint8_t { NotSet, SameUpper, SameLower };

struct ConvAttrs {
  std::array<int64_t, 2> kernel{0, 0};
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 2> dilations{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};  // top, left, bottom, right
  int64_t group = 1;
  AutoPad auto_pad = AutoPad::NotSet;
};

struct PoolAttrs {
  std::array<int64_t, 2> kernel{0, 0};
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};
  bool count_include_pad = false;  // AveragePool only
  // ONNX ceil_mode=1: shape inference turns it into extra bottom/right padding (then clears it),
  // which a max pool ignores and an average pool does not count.
  bool ceil_mode = false;
  AutoPad auto_pad = AutoPad::NotSet;
};

struct GemmAttrs {
  float alpha = 1.0f;
  float beta = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
};

struct ClipAttrs {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
};

struct FlattenAttrs {
  int64_t axis = 1;  // normalised to [0, rank] by shape inference
};

struct ReshapeAttrs {
  Shape target;  // as given: 0 copies the input dim (unless allowzero), -1 is inferred
  bool allowzero = false;
  // The target is input 1, computed by a shape subgraph that canonicalization folds; the target
  // is read from it then and the input dropped.
  bool target_pending = false;
};

struct BatchNormAttrs {
  float epsilon = 1e-5f;
};

struct ConcatAttrs {
  int64_t axis = 0;  // normalised to [0, rank) by shape inference
};

// QuantizeLinear: q = saturate(round_half_even(x / scale[c]) + zero_point[c]);
// DequantizeLinear: x = (q - zero_point[c]) * scale[c]. Per tensor when axis < 0 (one scale),
// else per channel along `axis` (normalised to [0, rank) by shape inference).
struct QuantAttrs {
  ElemType qtype = ElemType::U8;  // the quantized side's element type
  int64_t axis = -1;
  std::vector<float> scale;
  std::vector<int64_t> zero_point;  // same length as scale
  bool per_tensor() const { return axis < 0; }
};

// Sigmoid .. Silu: HardSigmoid y = max(0, min(1, alpha * x + beta)), HardSwish x * HardSigmoid(x)
// (alpha 1/6, beta 1/2 from ONNX; other values when fused from a HardSigmoid), LeakyRelu/Elu alpha,
// Gelu tanh approximation.
struct PointwiseAttrs {
  float alpha = 0.0f;
  float beta = 0.0f;
  bool tanh_approx = false;
};

struct GatherAttrs {
  std::vector<int64_t> channels;
};

// Softmax: y = exp(x - max) / sum(exp(x - max)) over axis `axis` (opset >= 13), or over all the
// axes from `axis` on when `flatten` (opsets 1-11 coerce the input to 2-D at `axis`). axis is
// normalised to [0, rank) by shape inference.
struct SoftmaxAttrs {
  int64_t axis = -1;
  bool flatten = false;
};

// LayerNormalization: over the axes from `axis` to the last, y = (x - mean) / sqrt(var + epsilon)
// * scale + bias (scale and bias broadcast to those axes; bias optional). Outputs 2 and 3, when
// present, are the mean and 1/sqrt(var + epsilon), of shape x with the normalised axes set to 1.
// A decomposed form fused by pass_fuse_layernorm.cpp carries the ReduceMean axes in `axes` until
// shape inference checks they are the trailing ones and sets `axis`.
struct LayerNormAttrs {
  int64_t axis = -1;
  float epsilon = 1e-5f;
  std::vector<int64_t> axes;
};

// The ONNX op a Rearrange came from, every axis given (rearrange.h computes the strided view).
struct RearrangeAttrs {
  enum class Kind : uint8_t { Transpose, Slice, Resize };
  Kind kind = Kind::Transpose;
  std::vector<int64_t> perm;           // Transpose: output axis k is input axis perm[k]
  std::vector<int64_t> starts, steps;  // Slice: y[i] = x[starts + i * steps] (steps >= 1) ...
  Shape sizes;                         // ... for i < sizes, per axis
  std::vector<int64_t> scales;         // Resize: y[i] = x[i / scales] per axis (nearest, floor)
};

// The ONNX attributes of an op canonicalization removes, as written (ints and int lists alike as
// lists, tensors as constants): only the constant evaluator (const_eval.h) and the passes read them.
struct OnnxAttrs {
  std::map<std::string, std::vector<int64_t>> ints;
  std::map<std::string, std::vector<float>> floats;
  std::map<std::string, std::string> strings;
  std::map<std::string, Tensor> tensors;
  const std::vector<int64_t>* find_ints(const std::string& name) const;
  int64_t i(const std::string& name, int64_t def) const;
  std::string s(const std::string& name, const std::string& def) const;
};

using Attrs = std::variant<std::monostate, ConvAttrs, PoolAttrs, GemmAttrs, ClipAttrs, FlattenAttrs,
                           ReshapeAttrs, BatchNormAttrs, ConcatAttrs, QuantAttrs, PointwiseAttrs, GatherAttrs,
                           RearrangeAttrs, SoftmaxAttrs, LayerNormAttrs, OnnxAttrs>;

}  // namespace tpusim::compiler
