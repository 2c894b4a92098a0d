// Pass: the walk in graph order that folds what can be computed at compile time into constants,
// rewrites ops into their canonical form (rewrite_node) and infers every shape as it goes, so a
// Shape node always sees its input's static shape.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/canonicalize.h"
#include "compiler/const_eval.h"
#include "compiler/shape_infer.h"

namespace tpusim::compiler {

namespace {

bool is_output(const Graph& g, const std::string& t) {
  return std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
}

}  // namespace

void fold_constants(Graph& g, CanonStats& stats) {
  std::vector<Node> in_order = std::move(g.nodes), kept;
  g.nodes.clear();
  for (size_t i = 0; i < in_order.size(); ++i) {
    Node n = std::move(in_order[i]);
    if (auto* r = std::get_if<ReshapeAttrs>(&n.attrs); r && r->target_pending) {
      const Tensor* t = g.constant(n.input(1));
      if (!t)
        g.fail(n,
               fmt::format("shape input '{}' is not computable at compile time (static shapes are required)",
                           n.input(1)));
      r->target = reshape_target(g, n, *t);
      r->target_pending = false;
      n.inputs.resize(1);
    }
    if (can_const_eval(g, n) && !is_output(g, n.outputs[0])) {
      g.tensors[n.outputs[0]] = const_eval(g, n);
      ++stats.folded;
      continue;
    }
    std::vector<Node> repl = rewrite_node(g, n);
    if (!repl.empty()) {
      ++stats.rewritten;
      for (Node& m : repl) {
        infer_node(g, m);
        kept.push_back(std::move(m));
      }
      continue;
    }
    infer_node(g, n);
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
}

}  // namespace tpusim::compiler
