#include "compiler/fold_batchnorm.h"

#include <algorithm>
#include <cmath>

#include "compiler/shape_infer.h"

namespace tpusim::compiler {

void batchnorm_coefficients(const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var,
                            float eps, std::vector<float>& s, std::vector<float>& t) {
  const size_t C = gamma.f32.size();
  s.resize(C);
  t.resize(C);
  for (size_t c = 0; c < C; ++c) {
    s[c] = gamma.f32[c] / std::sqrt(var.f32[c] + eps);
    t[c] = beta.f32[c] - mean.f32[c] * s[c];
  }
}

namespace {

std::string fresh_name(const Graph& g, const std::string& base) {
  std::string n = base;
  for (int k = 1; g.has(n); ++k) n = base + "_" + std::to_string(k);
  return n;
}

std::string add_const(Graph& g, const std::string& base, Shape shape, std::vector<float> data) {
  Tensor t = make_f32(fresh_name(g, base), std::move(shape), std::move(data));
  t.is_const = true;
  const std::string name = t.name;
  g.tensors[name] = std::move(t);
  return name;
}

// Rewrites producer p (Conv or Gemm) so that its output is s * out + t per output channel.
// Returns false when p's weights are not constant float tensors.
bool fold_into(Graph& g, Node& p, const std::vector<float>& s, const std::vector<float>& t) {
  const Tensor* w = g.constant(p.input(1));
  const Tensor* b = p.input(2).empty() ? nullptr : g.constant(p.input(2));
  if (!w || w->type != ElemType::F32 || (!p.input(2).empty() && (!b || b->type != ElemType::F32)))
    return false;
  const auto C = static_cast<int64_t>(s.size());
  std::vector<float> wf = w->f32;
  if (p.op == Op::Conv) {
    const int64_t per = w->elements() / C;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < per; ++i) wf[c * per + i] *= s[c];
    std::vector<float> bf(s.size());
    for (int64_t c = 0; c < C; ++c) bf[c] = (b ? b->f32[c] : 0.0f) * s[c] + t[c];
    p.inputs.resize(3);
    p.inputs[1] = add_const(g, p.input(1) + "_bnfold", w->shape, std::move(wf));
    p.inputs[2] = add_const(g, (b ? p.input(2) : p.name + "_bias") + "_bnfold", {C}, std::move(bf));
    return true;
  }
  auto& a = p.attr<GemmAttrs>();
  const int64_t rows = w->shape[0], cols = w->shape[1];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) wf[r * cols + k] *= s[a.trans_b ? r : k];
  // C' has C's shape broadcast with [C]; beta == 0 (or no C) makes it t with beta = 1.
  Shape cshape{C};
  std::vector<float> cf(t);
  if (b && a.beta != 0.0f) {
    cshape = *broadcast_shapes(b->shape, {C});
    const int64_t n = num_elements(cshape);
    cf.assign(static_cast<size_t>(n), 0.0f);
    const int64_t bcols = b->shape.empty() ? 1 : b->shape.back();
    const int64_t brows = b->shape.size() == 2 ? b->shape[0] : 1;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = i % C, r = i / C;
      const float cv = b->f32[(brows == 1 ? 0 : r) * bcols + (bcols == 1 ? 0 : c)];
      cf[i] = cv * s[c] + t[c] / a.beta;
    }
  } else {
    a.beta = 1.0f;
  }
  p.inputs.resize(3);
  p.inputs[1] = add_const(g, p.input(1) + "_bnfold", w->shape, std::move(wf));
  p.inputs[2] = add_const(g, (b ? p.input(2) : p.name + "_bias") + "_bnfold", cshape, std::move(cf));
  return true;
}

}  // namespace

FoldStats fold_batchnorm(Graph& g) {
  FoldStats st;
  std::vector<Node> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& bn = g.nodes[i];
    if (bn.op != Op::BatchNormalization) continue;
    const Tensor *gamma = g.constant(bn.input(1)), *beta = g.constant(bn.input(2)),
                 *mean = g.constant(bn.input(3)), *var = g.constant(bn.input(4));
    if (!gamma || !beta || !mean || !var) {
      ++st.kept;
      continue;
    }
    std::vector<float> s, t;
    batchnorm_coefficients(*gamma, *beta, *mean, *var, bn.attr<BatchNormAttrs>().epsilon, s, t);
    const size_t C = s.size();
    const std::string x = bn.input(0);
    Node* p = nullptr;
    for (size_t j = 0; j < i; ++j)
      if (g.nodes[j].outputs[0] == x) p = &g.nodes[j];
    const bool sole_use =
        g.consumers(x).size() == 1 && std::find(g.outputs.begin(), g.outputs.end(), x) == g.outputs.end();
    if (p && sole_use && (p->op == Op::Conv || p->op == Op::Gemm) && fold_into(g, *p, s, t)) {
      p->outputs[0] = bn.outputs[0];
      g.tensors.erase(x);
      bn.inputs.clear();
      bn.outputs.clear();  // marked for removal
      ++st.folded;
      continue;
    }
    const std::string name = bn.name;
    bn.op = Op::ChannelAffine;
    bn.attrs = std::monostate{};
    bn.inputs = {x, add_const(g, name + "_scale", {static_cast<int64_t>(C)}, s),
                 add_const(g, name + "_shift", {static_cast<int64_t>(C)}, t)};
    ++st.to_affine;
  }
  std::erase_if(g.nodes, [](const Node& n) { return n.outputs.empty(); });
  g.remove_unused_tensors();
  return st;
}

}  // namespace tpusim::compiler
