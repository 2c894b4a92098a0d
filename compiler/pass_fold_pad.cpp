// Pass: a constant-mode Pad with value 0 along H and W is folded into what reads it:
//   Conv            its pads grow (Conv pads with zeros, i.e. the zero point once quantized)
//   AveragePool     its pads grow and the padding counts (count_include_pad), allowed only when
//                   the pool had no padding or already counted it
//   MaxPool         only an all-zero Pad (a zero would take part in the max)
// An all-zero Pad is simply removed. Anything else is left for canonicalize to refuse.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/canonicalize.h"
#include "compiler/shape_infer.h"

namespace tpusim::compiler {

namespace {

// The H/W pads {top, left, bottom, right} of a foldable Pad, or nullopt.
std::optional<std::array<int64_t, 4>> zero_pad(const Graph& g, const Node& n) {
  const auto& a = n.attr<OnnxAttrs>();
  if (a.s("mode", "constant") != "constant") return std::nullopt;
  float value = a.floats.count("value") ? a.floats.at("value")[0] : 0.0f;
  if (n.inputs.size() > 2 && !n.input(2).empty()) {
    const Tensor* v = g.constant(n.input(2));
    if (!v || v->elements() != 1) return std::nullopt;
    value = v->at(0);
  }
  if (value != 0.0f) return std::nullopt;
  // Shape inference accepted only 8 non-negative pads, along H and W.
  const std::vector<int64_t> p =
      a.find_ints("pads") ? *a.find_ints("pads") : g.constant(n.input(1))->ints.vec();
  return std::array<int64_t, 4>{p[2], p[3], p[6], p[7]};
}

bool foldable_into(const Node& m, const std::string& t, const std::array<int64_t, 4>& p) {
  const bool zero = p == std::array<int64_t, 4>{0, 0, 0, 0};
  if (zero) return true;
  if (m.input(0) != t) return false;
  if (m.op == Op::Conv) return true;
  if (m.op == Op::AveragePool) {
    const auto& a = m.attr<PoolAttrs>();
    return a.count_include_pad || a.pads == std::array<int64_t, 4>{0, 0, 0, 0};
  }
  return false;
}

}  // namespace

int fold_pad(Graph& g) {
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size();) {
    const Node n = g.nodes[i];
    if (n.op != Op::Pad) {
      ++i;
      continue;
    }
    const auto p = zero_pad(g, n);
    const std::string &x = n.input(0), &y = n.outputs[0];
    const auto users = g.consumers(y);
    const bool is_out = std::find(g.outputs.begin(), g.outputs.end(), y) != g.outputs.end();
    if (!p || is_out || users.empty() ||
        !std::all_of(users.begin(), users.end(), [&](const Node* m) { return foldable_into(*m, y, *p); })) {
      ++i;
      continue;
    }
    for (Node& m : g.nodes) {
      if (std::find(m.inputs.begin(), m.inputs.end(), y) == m.inputs.end()) continue;
      for (std::string& s : m.inputs)
        if (s == y) s = x;
      std::array<int64_t, 4>* pads = m.op == Op::Conv ? &m.attr<ConvAttrs>().pads
                                     : m.op == Op::AveragePool || m.op == Op::MaxPool
                                         ? &m.attr<PoolAttrs>().pads
                                         : nullptr;
      if (pads) {
        for (int k = 0; k < 4; ++k) (*pads)[k] += (*p)[k];
        if (m.op == Op::AveragePool && *p != std::array<int64_t, 4>{0, 0, 0, 0})
          m.attr<PoolAttrs>().count_include_pad = true;
        infer_node(g, m);  // same output shape; checks the new pads
      }
    }
    g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    g.tensors.erase(y);
    ++folded;
  }
  return folded;
}

}  // namespace tpusim::compiler
