// Pass: Identity and inference-mode Dropout nodes are removed; their consumers read the input.
// When the removed node writes a graph output, its producer writes that name instead.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/canonicalize.h"

namespace tpusim::compiler {

int bypass_identity(Graph& g) {
  auto is_output = [&](const std::string& t) {
    return std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
  };
  int removed = 0;
  for (size_t i = 0; i < g.nodes.size();) {
    const Node n = g.nodes[i];
    if (n.op != Op::Identity && n.op != Op::Dropout) {
      ++i;
      continue;
    }
    if (n.op == Op::Dropout) {
      if (n.outputs.size() > 1 && (!g.consumers(n.outputs[1]).empty() || is_output(n.outputs[1])))
        g.fail(n, "its mask output is used (training-mode Dropout is not supported)");
      if (n.inputs.size() > 2) {
        // Training mode drops nothing at ratio 0 (Swin's attention dropout exports as training
        // mode with a constant ratio 0).
        const Tensor* t = g.constant(n.input(2));
        const Tensor* ratio = n.input(1).empty() ? nullptr : g.constant(n.input(1));
        const bool zero_ratio = ratio && ratio->elements() == 1 && ratio->at(0) == 0.0f;
        if (!t || t->elements() != 1 || (t->at(0) != 0.0f && !zero_ratio))
          g.fail(n, "training_mode must be a constant false, or the ratio a constant 0 (inference only)");
      }
    }
    const std::string &x = n.input(0), &y = n.outputs[0];
    g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    ++removed;
    const bool x_is_io =
        is_output(x) || g.constant(x) || std::find(g.inputs.begin(), g.inputs.end(), x) != g.inputs.end();
    std::string from = y, to = x;
    if (is_output(y)) {
      if (x_is_io)
        g.fail(n, fmt::format("writes graph output '{}' as a copy of '{}', which is an input, output or "
                              "constant: not supported",
                              y, x));
      from = x, to = y;  // the producer of x writes y
    }
    for (Node& m : g.nodes) {
      for (std::string& s : m.inputs)
        if (s == from) s = to;
      for (std::string& s : m.outputs)
        if (s == from) s = to;
    }
    g.tensors.erase(from);
    if (n.outputs.size() > 1) g.tensors.erase(n.outputs[1]);
  }
  return removed;
}

}  // namespace tpusim::compiler
