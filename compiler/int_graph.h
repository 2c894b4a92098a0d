// The integer graph IR: what quantized lowering (lower.h) produces, the integer reference
// interpreter (int_interp.h) runs untiled and the back end tiles into instructions.
//
// Every op except IConcat and IGather is the computation of exactly one TIU instruction of isa/isa_table.h on
// whole tensors: the back end splits an op into tiles (rows, channels, batch) but never changes
// its arithmetic, so the interpreter here is the golden for the simulator, bit for bit.
//   IConv    -> conv2d   IMatmul -> matmul   IPool -> pool   IEltwise -> eltwise
//   IRequant -> requant  ILut    -> lut    ILayerNorm -> layernorm  ISoftmax -> softmax
//   IActMatmul -> matmul, its second operand loaded transposed as the weights
//   IConcat  -> GDMA copies into slices of the output (no arithmetic)
//   IGather  -> GDMA copies of input channels into output channels (no arithmetic)
//   IRearrange -> GDMA strided copies (no arithmetic)
// Flatten/Reshape are not ops: the output ITensor is a view (`view_of`) of the same elements.
//
// Numbers: activations are per-tensor affine, real = (q - zero_point) * scale; weights are
// symmetric per output channel (int8 or int4); biases int32 at the accumulator scale
// s_in * s_w[c]. Every op but ILut, IConcat and IGather ends in the requant tail of the TIU:
//   out = clamp(out_zp + round_shift(acc * M0[c], shift[c]), clamp_lo, clamp_hi)
// with (M0, shift) from quantize_multiplier (quant/quantize.h), which also gives the
// representation error kept with each multiplier for the per-layer report.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "compiler/rearrange.h"
#include "compiler/tensor.h"
#include "isa/dtype.h"
#include "isa/isa.h"  // PoolMode, EltOp: the instruction encodings
#include "isa/numerics.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

struct ITensor {
  std::string name;
  Shape shape;  // NCHW for 4-D activations; [rows, features] after Flatten
  DType dtype = DType::Int8;
  float scale = 1.0f;
  int32_t zero_point = 0;
  // Non-empty: this tensor holds the same elements, in the same row-major order, as the named
  // (non-view) tensor, with its own shape and possibly its own scale/zero point (a
  // DequantizeLinear that reinterprets the integers). No data of its own.
  std::string view_of;
  // The float-graph tensor whose values this tensor quantizes (the QuantizeLinear's input, or the
  // float output it materialises), for FP32-vs-integer comparisons; may be empty.
  std::string float_name;
  // Non-empty: a constant activation (ViT's class token, its position embedding): these codes,
  // row-major, stored with the program like weights; no op writes it.
  std::vector<int32_t> data;
};

// A real scale s represented as M0 * 2^-shift, with |M0 * 2^-shift - s| / s = rel_error. The
// default is 1.0 exactly (2^30 * 2^-30).
struct Multiplier {
  int32_t m0 = kM0Identity;
  int shift = kShiftIdentity;
  double scale = 1.0;  // the real scale it stands for
  double rel_error = 0.0;
};
Multiplier make_multiplier(double scale);  // quantize_multiplier; throws tpusim::Error

// The requant tail: one multiplier (per tensor) or one per output channel.
struct RequantSpec {
  std::vector<Multiplier> mult;
  int32_t out_zp = 0;
  int32_t clamp_lo = 0;
  int32_t clamp_hi = 0;
  bool per_channel() const { return mult.size() > 1; }
  const Multiplier& at(int64_t channel) const {
    return mult[per_channel() ? static_cast<size_t>(channel) : 0];
  }
};

struct IConv {
  std::vector<int8_t> weight;  // [oc][ic/groups][kh][kw], int8 or int4 values
  DType w_dtype = DType::Int8;
  std::vector<float> w_scale;  // per output channel (an average pool as a unit-weight sum: 1/(kh*kw))
  std::vector<int32_t> bias;   // per output channel, at s_in * s_w[c]; empty = no bias
  int64_t bias_saturated = 0;  // bias values clipped to int32 at lowering
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t dilation[2] = {1, 1};
  int64_t pads[4] = {0, 0, 0, 0};  // top, left, bottom, right; padding holds in_zp
  int64_t groups = 1;
  int32_t in_zp = 0;
};

// Input [..., k] (all leading dims are rows), output [..., n].
struct IMatmul {
  std::vector<int8_t> weight;  // [n][k]: row j is output column j (Gemm transB / MatMul B transposed)
  DType w_dtype = DType::Int8;
  std::vector<float> w_scale;  // per output column
  std::vector<int32_t> bias;   // per output column; empty = no bias
  int64_t bias_saturated = 0;
  int32_t in_zp = 0;
};

// acc = max(q - in_zp) over the window (padding ignored), or
// rounding_div(sum(q - in_zp), count) with count = kh*kw (count_pad) or the non-pad elements.
struct IPool {
  PoolMode mode = PoolMode::Max;
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t pads[4] = {0, 0, 0, 0};
  bool count_pad = false;
  int32_t in_zp = 0;
};

// a' = sat32(round_shift((a - a_zp) * a_rescale.M0, shift)), b' likewise; acc = op(a', b').
// Shapes: a and b equal the output's, or one of them (not both) is [N, C, 1, 1] (or [N, C]) of a
// 4-D output [N, C, H, W] and is broadcast along h and w (squeeze-and-excite: x * sigmoid(s)).
// The back end replicates it with a GDMA load of source strides 0 along h and w.
struct IEltwise {
  EltOp op = EltOp::Add;
  int32_t a_zp = 0, b_zp = 0;
  Multiplier a_rescale, b_rescale;
};

// acc = q - in_zp: a change of scale, zero point, type or clamp.
struct IRequant {
  int32_t in_zp = 0;
};

// out = table[q - qmin(in dtype)]: any function of one 8- or 4-bit input code, e.g. a sigmoid or
// a GELU, precomputed by the compiler. table.size() is 2^bits(input dtype) (256 or 16); table[i]
// is the output code for input code qmin(in) + i and must lie inside the output's dtype. The
// output ITensor's dtype/scale/zero point are the op's output parameters; `rq` is unused (no
// requant tail, no clamp: fold them into the table). Input and output have the same shape.
struct ILut {
  std::vector<int32_t> table;
};

// Inputs concatenated along `axis`; every input has the output's type, scale and zero point
// (lowering inserts IRequant ops where they differ). `rq` is unused.
struct IConcat {
  int64_t axis = 1;
};

// Channel gather: output channel c is input channel channels[c]. Input [N, C_in, ...] (4-D NCHW or
// 2-D [N, C_in]), output [N, channels.size(), ...] with the same trailing dimensions; every entry
// lies in [0, C_in), repeats and any order are allowed (channel shuffle, channel slices of
// Slice/Split). The output has the input's type, scale and zero point (lowering guarantees it;
// the interpreter throws otherwise). `rq` is unused. The back end emits strided GDMA copies only.
struct IGather {
  std::vector<int64_t> channels;
};

// Strided copy (a Transpose, Slice, Split or nearest Resize): output element j is input element
// view(j) (rearrange.h); same type, scale and zero point, `rq` unused. GDMA copies only.
struct IRearrange {
  StridedView view;
};

// The reductions over the last axis of [..., D] (the `layernorm` / `softmax` instructions on the
// tensor viewed as [rows, D, 1, 1]; quant/transformer_params.h makes the integers). With q the
// input codes of one row (the zero point cancels), per-tensor rq:
//   ILayerNorm: sigma = max(1, isqrt(D*sum q^2 - (sum q)^2 + eps)),
//               acc = sat32(round_half_up((D*q_c - sum q) * g[c] / sigma) + b[c]);
//   ISoftmax:   e_c = clamp(table[max q - q_c], 0, 2^24), acc = round_half_up(e_c * 2^16 / sum e).
// The back end runs them on bands of whole rows (codegen_norm.cpp).
struct ILayerNorm {
  std::vector<int32_t> g, b;  // per channel of the last axis
  uint32_t eps = 0;
};
struct ISoftmax {
  std::vector<int32_t> table;  // 2^bits(input) entries
};
// A MatMul of two activations (attention's Q·K^T and P·V): inputs A [..., M, K] (zero point
// a_zp) and B [..., K, N], signed 8- or 4-bit with zero point 0 (the calibrator quantizes it
// symmetric) so the MAC array reads B^T as weights; B's batch dims equal A's or are all 1.
// Per-tensor rq. acc[b, i, j] = sum_k (A[b, i, k] - a_zp) * B[b, k, j] (codegen_act_matmul.cpp).
struct IActMatmul {
  int32_t a_zp = 0;
};

using IOpKind = std::variant<IConv, IMatmul, IPool, IEltwise, IRequant, ILut, IConcat, IGather, IRearrange,
                             ILayerNorm, ISoftmax, IActMatmul>;

struct IOp {
  std::string name;                  // the float-graph node it was anchored on
  std::vector<std::string> sources;  // every float-graph node folded into it, in order
  std::vector<std::string> inputs;   // ITensor names
  std::string output;
  IOpKind kind;
  RequantSpec rq;

  template <class T>
  const T* as() const {
    return std::get_if<T>(&kind);
  }
};

// "conv2d", "matmul", "pool", "eltwise", "requant", "lut" (the TIU mnemonics), "concat" or
// "gather".
const char* kind_name(const IOp& op);

struct IntGraph {
  std::string source;  // the model file, for messages
  std::map<std::string, ITensor> tensors;
  std::vector<IOp> ops;  // topological order
  // Integer inputs, and the float-graph input each one quantizes (the host applies ONNX
  // QuantizeLinear with the tensor's scale/zero point); same order.
  std::vector<std::string> inputs, float_inputs;
  // Integer outputs, and the float-graph output each one dequantizes to; same order.
  std::vector<std::string> outputs, float_outputs;

  const ITensor& tensor(const std::string& name) const;  // throws Error naming it
  // The tensor that owns the elements: `name` itself, or what it is a view of.
  const std::string& storage(const std::string& name) const;
};

}  // namespace tpusim::compiler
