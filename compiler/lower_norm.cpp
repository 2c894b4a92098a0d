// Quantized lowering of the reductions over the last axis: LayerNormalization -> ILayerNorm and
// Softmax -> ISoftmax (the integers from quant/transformer_params.h). Both start a pending op whose
// accumulator unit is known before the output grid (LayerNorm: max|gamma| / 2^15; Softmax: 2^-16,
// a probability), so the QuantizeLinear after them finalises them like any requantizing op.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "compiler/lower_internal.h"
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

}  // namespace tpusim::compiler::lowering
