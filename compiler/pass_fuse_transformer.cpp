// Pass: the decomposed LayerNormalization and GELU torch.onnx writes before opset 17/20, fused back
// into one op each before constants are folded (so the pieces never meet the quantizer):
//   ReduceMean(x, A) -> Sub(x, ·) -> Pow(·, 2) | Mul(d, d) -> ReduceMean(·, A) -> Add(·, eps)
//   -> Sqrt -> Div(d, ·) [-> Mul(·, scale) [-> Add(·, bias)]]   => LayerNormalization(x, scale, bias)
//   Div(x, sqrt 2) | Mul(x, 1/sqrt 2) -> Erf -> Add(·, 1) -> Mul(x, ·) -> Mul(·, 0.5)
//   (or 0.5 applied to x first)                                 => Gelu(x)
// Either input order of Add/Mul. Every intermediate must feed only the pattern and not be a graph
// output; the axes A are checked to be the trailing ones by shape inference.
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "compiler/canonicalize.h"

namespace tpusim::compiler {

namespace {

struct Matcher {
  Graph& g;

  bool is_output(const std::string& t) const {
    return std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
  }
  // The one node reading t (t not a graph output), or nullptr.
  const Node* only_consumer(const std::string& t, Op op) const {
    const auto c = g.consumers(t);
    return c.size() == 1 && c[0]->op == op && !is_output(t) ? c[0] : nullptr;
  }
  std::optional<float> scalar(const std::string& t) const {
    const Tensor* c = g.constant(t);
    if (!c || c->elements() != 1) return std::nullopt;
    return static_cast<float>(c->at(0));
  }
  // For a binary node reading `t`, its other input.
  static const std::string* other(const Node& n, const std::string& t) {
    if (n.inputs.size() != 2) return nullptr;
    if (n.input(0) == t) return &n.input(1);
    if (n.input(1) == t) return &n.input(0);
    return nullptr;
  }
  bool other_is(const Node& n, const std::string& t, float v, float tol) const {
    const std::string* o = other(n, t);
    const auto s = o ? scalar(*o) : std::nullopt;
    return s && std::abs(*s - v) <= tol;
  }
  std::optional<std::vector<int64_t>> reduce_axes(const Node& n) const {
    const auto& a = n.attr<OnnxAttrs>();
    if (a.i("keepdims", 1) != 1) return std::nullopt;
    if (const auto* v = a.find_ints("axes")) return *v;
    const Tensor* t = n.inputs.size() > 1 ? g.constant(n.input(1)) : nullptr;
    if (!t || is_float(t->type) || t->ints.empty()) return std::nullopt;
    return t->ints;
  }
  // A constant whose rank stays within the normalised axes (so it broadcasts along them only).
  bool param(const std::string* t, size_t naxes) const {
    const Tensor* c = t ? g.constant(*t) : nullptr;
    return c && is_float(c->type) && c->shape.size() <= naxes;
  }

  // Replaces the nodes producing `gone` by making `last` the fused node.
  void replace(const std::set<std::string>& gone, const std::string& last, Op op, std::vector<std::string> in,
               Attrs a) {
    for (Node& n : g.nodes)
      if (n.outputs[0] == last) {
        n.op = op;
        n.inputs = std::move(in);
        n.attrs = std::move(a);
      }
    g.nodes.erase(std::remove_if(g.nodes.begin(), g.nodes.end(),
                                 [&](const Node& n) { return gone.count(n.outputs[0]) != 0; }),
                  g.nodes.end());
    for (const std::string& t : gone) g.tensors.erase(t);
  }

  bool layer_norm(const Node& r1) {
    const std::string& x = r1.input(0);
    const auto axes = reduce_axes(r1);
    const Node* sub = only_consumer(r1.outputs[0], Op::Sub);
    if (!axes || !sub || sub->input(0) != x || sub->input(1) != r1.outputs[0]) return false;
    const std::string& d = sub->outputs[0];
    const auto uses = g.consumers(d);
    if (uses.size() != 2 || is_output(d)) return false;
    const Node* sq = nullptr;
    const Node* div = nullptr;
    for (const Node* u : uses) {
      if ((u->op == Op::Pow && u->input(0) == d && other_is(*u, d, 2.0f, 0.0f)) ||
          (u->op == Op::Mul && u->input(0) == d && u->input(1) == d))
        sq = u;
      else if (u->op == Op::Div && u->input(0) == d)
        div = u;
    }
    if (!sq || !div) return false;
    const Node* r2 = only_consumer(sq->outputs[0], Op::ReduceMean);
    if (!r2 || reduce_axes(*r2) != axes) return false;
    const Node* add = only_consumer(r2->outputs[0], Op::Add);
    const std::string* eps_t = add ? other(*add, r2->outputs[0]) : nullptr;
    const auto eps = eps_t ? scalar(*eps_t) : std::nullopt;
    if (!eps) return false;
    const Node* root = only_consumer(add->outputs[0], Op::Sqrt);
    if (!root || div->input(1) != root->outputs[0]) return false;
    std::set<std::string> gone{r1.outputs[0],   d, sq->outputs[0], r2->outputs[0], add->outputs[0],
                               root->outputs[0]};
    std::string last = div->outputs[0], scale, bias;
    if (const Node* m = only_consumer(last, Op::Mul); m && param(other(*m, last), axes->size())) {
      scale = *other(*m, last);
      gone.insert(last);
      last = m->outputs[0];
      if (const Node* b = only_consumer(last, Op::Add); b && param(other(*b, last), axes->size())) {
        bias = *other(*b, last);
        gone.insert(last);
        last = b->outputs[0];
      }
    }
    replace(gone, last, Op::LayerNormalization, {x, scale, bias}, LayerNormAttrs{-1, *eps, *axes});
    return true;
  }

  bool gelu(const Node& first) {
    const std::string& x =
        g.constant(first.input(0)) && first.op == Op::Mul ? first.input(1) : first.input(0);
    const bool is_div = first.op == Op::Div && other_is(first, x, std::sqrt(2.0f), 1e-4f);
    const bool is_mul = first.op == Op::Mul && other_is(first, x, std::sqrt(0.5f), 1e-4f);
    if (!is_div && !is_mul) return false;
    const Node* erf = only_consumer(first.outputs[0], Op::Erf);
    const Node* one = erf ? only_consumer(erf->outputs[0], Op::Add) : nullptr;
    if (!one || !other_is(*one, erf->outputs[0], 1.0f, 0.0f)) return false;
    const Node* m1 = only_consumer(one->outputs[0], Op::Mul);
    if (!m1) return false;
    const std::string* lhs = other(*m1, one->outputs[0]);
    std::set<std::string> gone{first.outputs[0], erf->outputs[0], one->outputs[0]};
    std::string last;
    if (lhs && *lhs == x) {  // (x * (1 + erf)) * 0.5
      const Node* half = only_consumer(m1->outputs[0], Op::Mul);
      if (!half || !other_is(*half, m1->outputs[0], 0.5f, 0.0f)) return false;
      gone.insert(m1->outputs[0]);
      last = half->outputs[0];
    } else {  // (x * 0.5) * (1 + erf)
      const Node* half = lhs ? g.producer(*lhs) : nullptr;
      if (!half || half->op != Op::Mul || !other_is(*half, x, 0.5f, 0.0f) || !other(*half, x) ||
          g.consumers(*lhs).size() != 1 || is_output(*lhs))
        return false;
      gone.insert(*lhs);
      last = m1->outputs[0];
    }
    if (std::any_of(gone.begin(), gone.end(), [&](const std::string& t) { return is_output(t); }))
      return false;
    replace(gone, last, Op::Gelu, {x}, PointwiseAttrs{});
    return true;
  }
};

}  // namespace

int fuse_transformer(Graph& g) {
  Matcher m{g};
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node n = g.nodes[i];  // a copy: a fusion erases nodes
    const bool hit =
        (n.op == Op::ReduceMean && m.layer_norm(n)) || ((n.op == Op::Div || n.op == Op::Mul) && m.gelu(n));
    if (hit) {
      ++fused;
      i = static_cast<size_t>(-1);  // erased nodes may lie before i: rescan (a handful per block)
    }
  }
  return fused;
}

}  // namespace tpusim::compiler
