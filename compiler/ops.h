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
#include <optional>
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
};

const char* op_name(Op op);  // the ONNX op type ("Conv"); "ChannelAffine" for the IR-only op
std::optional<Op> op_from_onnx(std::string_view op_type);  // ONNX-importable ops only

struct ConvAttrs {
  std::array<int64_t, 2> kernel{0, 0};
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 2> dilations{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};  // top, left, bottom, right
  int64_t group = 1;
};

struct PoolAttrs {
  std::array<int64_t, 2> kernel{0, 0};
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};
  bool count_include_pad = false;  // AveragePool only
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

using Attrs = std::variant<std::monostate, ConvAttrs, PoolAttrs, GemmAttrs, ClipAttrs, FlattenAttrs,
                           ReshapeAttrs, BatchNormAttrs, ConcatAttrs, QuantAttrs>;

}  // namespace tpusim::compiler
