// Quantized lowering of the transformer ops: MatMul of two activations -> IActMatmul (accumulator
// scale s_a * s_b), constant activations (DequantizeLinear of an integer constant read as an
// activation -> an ITensor holding the codes), and the reductions over the last axis, LayerNormalization ->
// ILayerNorm and Softmax -> ISoftmax (the integers from quant/transformer_params.h). All start a pending op
// whose accumulator unit is known before the output grid (LayerNorm: max|gamma| / 2^15; Softmax: 2^-16, a
// probability), so the QuantizeLinear after them finalises them like any requantizing op.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "compiler/lower_internal.h"
#include "compiler/shape_infer.h"
#include "isa/numerics.h"
#include "quant/transformer_params.h"

namespace tpusim::compiler::lowering {

namespace {

// The constant's values broadcast to D entries along the last axis (shape [D] or all ones but D).
std::vector<double> per_channel(const Graph& g, const Node& n, const ConstValues& c, int64_t D,
                                const char* what) {
  if (static_cast<int64_t>(c.real.size()) == D) return c.real;
  if (c.real.size() == 1) return std::vector<double>(static_cast<size_t>(D), c.real[0]);
  g.fail(n, fmt::format("{} has {} values: expected one per channel of the last axis ({})", what,
                        c.real.size(), D));
}

}  // namespace

void Lowerer::layer_norm(const Node& n) {
  const ITensor& x = deq_input(n, 0);
  const auto& a = n.attr<LayerNormAttrs>();
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (a.axis != rank - 1)
    g.fail(n,
           fmt::format("normalises from axis {} of a rank-{} tensor: only the last axis has an integer form",
                       a.axis, rank));
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (!n.outputs[i].empty()) g.fail(n, "the Mean and InvStdDev outputs have no integer form");
  const int64_t D = x.shape.back();
  const std::vector<double> gamma =
      n.input(1).empty() ? std::vector<double>(static_cast<size_t>(D), 1.0)
                         : per_channel(g, n, constant_values(g, n, n.input(1)), D, "the scale");
  const std::vector<double> beta = n.inputs.size() < 3 || n.input(2).empty()
                                       ? std::vector<double>{}
                                       : per_channel(g, n, constant_values(g, n, n.input(2)), D, "the bias");
  LayerNormInts p;
  try {
    p = layernorm_ints(gamma, beta, a.epsilon, x.scale);
  } catch (const Error& e) {
    g.fail(n, e.what());
  }
  values[n.outputs[0]] = start(n, ILayerNorm{p.g, p.b, p.eps}, {x.name}, {p.unit}, rank - 1);
}

void Lowerer::softmax(const Node& n) {
  const ITensor& x = deq_input(n, 0);
  const auto& a = n.attr<SoftmaxAttrs>();
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (a.axis != rank - 1)
    g.fail(n, fmt::format("is over axis {} of a rank-{} tensor: only the last axis has an integer form",
                          a.axis, rank));
  std::vector<int32_t> table;
  try {
    table = softmax_exp_table(x.scale, x.dtype);
  } catch (const Error& e) {
    g.fail(n, e.what());
  }
  values[n.outputs[0]] = start(n, ISoftmax{std::move(table)}, {x.name}, {softmax_acc_unit()}, rank - 1);
}

void Lowerer::act_matmul(const Node& n) {
  const ITensor& a = deq_input(n, 0);
  const ITensor& b = deq_input(n, 1);
  const size_t ra = a.shape.size(), rb = b.shape.size();
  if (ra < 2 || rb < 2 || a.shape[ra - 1] != b.shape[rb - 2])
    g.fail(n, fmt::format("inputs {} and {} do not multiply", shape_str(a.shape), shape_str(b.shape)));
  // B's batch dims: all 1, or A's (numpy broadcasting of A against B is not supported).
  const Shape ab(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  if (num_elements(bb) != 1 && ab != bb)
    g.fail(n, fmt::format("batch dims {} against {}: the second operand's must equal the first's or be all 1",
                          shape_str(ab), shape_str(bb)));
  if (b.zero_point != 0 || (b.dtype != DType::Int8 && b.dtype != DType::Int4))
    g.fail(n,
           fmt::format("second operand '{}' is {} with zero point {}: a MatMul of two activations needs it "
                       "signed with zero point 0 (int8 or int4; the MAC array reads it as weights)",
                       b.name, tpusim::name(b.dtype), b.zero_point));
  const auto rank = static_cast<int64_t>(g.tensor(n.outputs[0]).shape.size());
  values[n.outputs[0]] = start(n, IActMatmul{a.zero_point}, {a.name, b.name},
                               {static_cast<double>(a.scale) * b.scale}, rank - 1);
}

// DequantizeLinear(integer constant) read as an activation (ViT's class token and position
// embedding): a constant ITensor holding the codes, on the DequantizeLinear's per-tensor grid.
bool Lowerer::constant_activation(const Node& user, const std::string& name) {
  const Node* dq = g.producer(name);
  if (!dq || dq->op != Op::DequantizeLinear) return false;
  const Tensor* c = g.constant(dq->input(0));
  if (!c || is_float(c->type)) return false;
  const QParams q = act_params(g, *dq);
  if (q.dtype == DType::Int32 || c->elements() == 0)
    g.fail(user, fmt::format("constant activation '{}' must be a non-empty 8- or 4-bit tensor", name));
  ITensor& t = add_tensor(name, c->shape, q, name);
  for (size_t i = 0; i < c->ints.size(); ++i) {
    const int64_t v = c->ints[i];
    if (v != saturate(v, q.dtype))
      g.fail(user,
             fmt::format("constant activation '{}' holds {}, outside {}", name, v, tpusim::name(q.dtype)));
    t.data.push_back(static_cast<int32_t>(v));
  }
  values[name] = Deq{name};
  return true;
}

const ITensor& Lowerer::broadcast_constant(const Node& user, const ITensor& c, const Shape& shape) {
  if (broadcast_shapes(c.shape, shape) != shape)
    g.fail(user, fmt::format("constant '{}' {} does not broadcast to {}", c.name, shape_str(c.shape),
                             shape_str(shape)));
  std::string name = c.name + "_broadcast";
  while (out.tensors.count(name) || g.has(name)) name += "_";
  ITensor& t = add_tensor(name, shape, params(c), "");  // no FP32 tensor of this shape
  const std::vector<int64_t> ys = strides_of(shape);
  for (int64_t i = 0; i < num_elements(shape); ++i)
    t.data.push_back(c.data[broadcast_index(c.shape, shape, ys, i)]);
  return t;
}

}  // namespace tpusim::compiler::lowering
