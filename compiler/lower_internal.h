// Internals of quantized lowering (lower.cpp: the walk; lower_ops.cpp: one float op each;
// lower_weights.cpp: constants). Not part of the compiler's API.
//
// The walk visits the float graph in order and keeps, for each float tensor it has seen, what
// that tensor is in integer terms:
//   Deq      - exactly DequantizeLinear(an integer tensor of the integer graph);
//   Pending  - an integer op whose requant is not decided yet: its real output is
//              acc * acc_scale[c] (then Relu/Clip bounds), waiting for the QuantizeLinear that
//              gives s_out, zero point and type. A bias Add or a Relu/Clip extends it.
#pragma once
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "compiler/graph.h"
#include "compiler/int_graph.h"

namespace tpusim::compiler::lowering {

struct Deq {
  std::string itensor;
};

struct Pending {
  const Node* anchor = nullptr;         // the float op it started from (named in errors)
  IOp op;                               // kind and inputs set; rq set when finalised
  std::vector<double> acc_scale;        // real value of one accumulator unit: per channel, or one
  std::vector<int64_t> bias;            // IConv/IMatmul: in accumulator units, before int32 saturation
  std::vector<float> exact_bias_scale;  // float(s_in * s_w[c]): an int32 bias at this scale is taken as is
  int64_t channel_axis = 1;             // of the output shape (matmul: the last)
  float lo = -std::numeric_limits<float>::infinity();  // folded Relu/Clip bounds
  float hi = std::numeric_limits<float>::infinity();
  bool clamped = false;  // a Relu/Clip was folded: no bias may follow
  // A MaxPool of a pending op (Conv -> Relu -> MaxPool -> QuantizeLinear, how the QDQ export of
  // 4-bit models writes it): `inner` is finalised onto the pool's output grid first (exact: Q is
  // monotonic, so Q(max(x)) = max(Q(x))), then the pool runs on that grid.
  std::shared_ptr<Pending> inner;
  std::string inner_name;  // the float tensor `inner` writes
};

using Value = std::variant<Deq, Pending>;

// Integer parameters of an activation.
struct QParams {
  DType dtype = DType::Int8;
  float scale = 1.0f;
  int32_t zero_point = 0;
  bool operator==(const QParams&) const = default;
};

// Symmetric weight from DequantizeLinear(constant): int8/int4 values, one scale per output channel.
struct QuantWeight {
  std::vector<int8_t> q;
  DType dtype = DType::Int8;
  std::vector<float> scale;
};

// A constant operand (float initializer or DequantizeLinear of an integer constant).
struct ConstValues {
  Shape shape;
  std::vector<double> real;    // the float values the model computes with
  std::vector<int64_t> q;      // DequantizeLinear(int32 ...): its integers, else empty
  std::vector<float> q_scale;  // and their scales (one, or per element of a 1-D tensor)
};

class Lowerer {
 public:
  explicit Lowerer(const Graph& g) : g(g) { out.source = g.source; }
  IntGraph run();

  const Graph& g;
  IntGraph out;
  std::map<std::string, Value> values;

  // lower.cpp
  void check_int32_readers() const;
  const ITensor& deq_input(const Node& n, size_t i);  // input i must be (or become exactly) a Deq
  QParams params(const ITensor& t) const { return {t.dtype, t.scale, t.zero_point}; }
  ITensor& add_tensor(const std::string& name, const Shape& shape, const QParams& p,
                      const std::string& float_name);
  void add_op(IOp op) { out.ops.push_back(std::move(op)); }
  Pending start(const Node& anchor, IOpKind kind, std::vector<std::string> inputs,
                std::vector<double> acc_scale, int64_t channel_axis) const;
  // Finalises p into an op writing `name` with parameters q (requant from acc_scale / q.scale).
  // `by` (the QuantizeLinear, or null) is recorded among the op's sources.
  void finalise(Pending p, const std::string& name, const QParams& q, const std::string& float_name,
                const Node* by);

  // lower_ops.cpp: one float op each; they set values[n.outputs[0]].
  void conv(const Node& n);
  void gemm(const Node& n);
  void matmul(const Node& n);
  void act_matmul(const Node& n);  // MatMul of two activations (lower_transformer.cpp)
  void pool(const Node& n);
  void eltwise(const Node& n);
  void concat(const Node& n);
  // lower_transformer.cpp: LayerNormalization and Softmax over the last axis.
  void layer_norm(const Node& n);
  void softmax(const Node& n);
  // lower_lut.cpp: a pointwise function as a table, built at finalise.
  void lut(const Node& n);
  void finalise_lut(Pending p, const std::string& name, const QParams& q, const std::string& float_name);
  // lower_affine.cpp: y = x * s[c] + t[c] as a 1x1 depthwise IConv.
  void channel_affine(const Node& n);
  bool constant_affine(const Node& n);  // Add/Mul of an activation and a constant; false if not that
  void affine_conv(const Node& n, const ITensor& x, const ConstValues& s, const ConstValues& t);
  bool is_constant(const std::string& name) const;
  // Mul by a per-channel constant, or BatchNormalization, of a pending Conv/Gemm/MatMul: folded
  // into its accumulator scale and bias; false if not that.
  bool fold_scale(const Node& n);
  void gather(const Node& n);  // ChannelGather -> IGather, Rearrange -> IRearrange
  bool fold_affine_into_pending(const Node& n, const std::vector<double>& k, const std::vector<double>& t);
  bool fold_bias_add(const Node& n);  // Add(pending conv/matmul, constant); false if not that
  void finalise_concat(Pending p, const std::string& name, const QParams& q, const std::string& float_name);
  // An average pool onto a finer grid (s_out < s_in) with the same count in every window becomes
  // a depthwise IConv with unit weights: one rounding instead of two (docs/compiler.md).
  void avg_pool_as_conv(Pending& p, const QParams& q) const;

 private:
  void bind_inputs();
  void quantize(const Node& n);
  void dequantize(const Node& n);
  void clamp(const Node& n);
  void view(const Node& n);
  void bind_outputs();
  // A Deq for tensor `name` (materialising a Pending without a QuantizeLinear when that is exact);
  // `user` is the node that needs it.
  const Deq& need_deq(const std::string& name, const Node* user);
  // DequantizeLinear(integer constant) read by `user` as an activation: adds the constant ITensor
  // `name` (lower_transformer.cpp); false when `name` is not that.
  bool constant_activation(const Node& user, const std::string& name);
  // A constant ITensor's codes broadcast (numpy rules) to `shape`, as a new constant tensor.
  const ITensor& broadcast_constant(const Node& user, const ITensor& c, const Shape& shape);
  // Whether p's result is exactly on its input's grid (a max pool, a concat of equal grids, a
  // clamp at grid values), so it needs no QuantizeLinear.
  bool exact_on_input_grid(const Pending& p) const;
  [[noreturn]] void not_quantized(const Node& user, const std::string& name) const;
  [[noreturn]] void float_reaches(const Pending& p, const std::string& name, const Node* user) const;
};

// lower_weights.cpp
// The weight `name` of node `user`: must be DequantizeLinear(constant int8/int4, or uint8/uint4
// at the mid zero point), per tensor or per channel along `out_axis` of `channels` channels.
// The per-tensor parameters of a QuantizeLinear/DequantizeLinear on an activation (fails naming
// the node for per-axis ones or an unsupported type).
QParams act_params(const Graph& g, const Node& n);
QuantWeight quantized_weight(const Graph& g, const Node& user, const std::string& name, int64_t out_axis,
                             int64_t channels);
// A constant operand of `user` (float, or DequantizeLinear of an integer constant).
ConstValues constant_values(const Graph& g, const Node& user, const std::string& name);
// c broadcast to the output shape `out` must vary along `axis` only (a per-channel bias); returns
// one value per channel, or one for a scalar. Fails naming `user` otherwise.
ConstValues per_channel(const Graph& g, const Node& user, const ConstValues& c, const Shape& out,
                        int64_t axis);
// The bias in accumulator units: b[c] = round_half_even(beta * real[c] / acc_scale[c]), or the
// DequantizeLinear's integers when their scale is exactly float(s_in * s_w[c]) and beta = 1.
std::vector<int64_t> bias_units(const ConstValues& b, const std::vector<double>& acc_scale,
                                const std::vector<float>& exact_scale, double beta);
// The requant tail for acc_scale[c] / q.scale with clamps [Q(lo), Q(hi)].
RequantSpec requant_spec(const std::vector<double>& acc_scale, const QParams& q, float lo, float hi);
// Saturates the bias to int32, counting the values clipped.
std::vector<int32_t> saturate_bias(const std::vector<int64_t>& bias, int64_t& saturated);

}  // namespace tpusim::compiler::lowering
