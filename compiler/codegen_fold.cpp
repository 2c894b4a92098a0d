// Back end, --opt 2: rearranges folded into the act_matmuls beside them (codegen_fold.h).
#include "compiler/codegen_fold.h"

#include "compiler/codegen.h"

namespace tpusim::compiler::be {

namespace {

// The element strides of each dim of a view's output shape (the view's dims are merged runs of
// them), or nothing when an output dim spans view dims that cannot be one stride.
std::optional<std::vector<int64_t>> out_dim_strides(const StridedView& v) {
  std::vector<std::pair<int64_t, int64_t>> left;  // view dims (extent, stride), innermost last
  for (size_t k = 0; k < v.dims.size(); ++k) left.emplace_back(v.dims[k], v.strides[k]);
  std::vector<int64_t> st(v.out.size(), 0);
  for (size_t d = v.out.size(); d-- > 0;) {
    const int64_t e = v.out[d];
    while (!left.empty() && left.back().first == 1) left.pop_back();
    if (e == 1) continue;
    if (left.empty() || left.back().first % e != 0) return std::nullopt;
    st[d] = left.back().second;
    left.back().first /= e, left.back().second *= e;
  }
  return st;
}

std::vector<int64_t> dense(const Shape& s) {
  std::vector<int64_t> d(s.size(), 1);
  for (size_t k = s.size(); k-- > 1;) d[k - 1] = d[k] * s[k];
  return d;
}

}  // namespace

std::optional<FoldedOperand> folded_operand(const IntGraph& g, const IOp& op, size_t k) {
  const std::string& in = op.inputs[k];
  const IOp* producer = nullptr;
  for (const IOp& p : g.ops)
    if (p.output == in) producer = &p;
  if (!producer || !producer->as<IRearrange>() || g.tensor(in).view_of != "" || is_4bit(g.tensor(in).dtype))
    return std::nullopt;
  for (const std::string& o : g.outputs)
    if (g.storage(o) == in) return std::nullopt;
  for (const IOp& reader : g.ops)
    for (const std::string& x : reader.inputs)
      if (g.storage(x) == in && (x != in || !reader.as<IActMatmul>())) return std::nullopt;
  const std::optional<std::vector<int64_t>> st = out_dim_strides(producer->as<IRearrange>()->view);
  if (!st) return std::nullopt;
  FoldedOperand f{producer, *st};
  const Shape& shape = g.tensor(in).shape;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] > 1 && f.strides[d] <= 0) return std::nullopt;
    if (shape[d] == 1) f.strides[d] = 1;  // never stepped; a DMA stride must not be 0
  }
  return f;
}

std::optional<FoldedStore> folded_store(const IntGraph& g, const IOp& op) {
  const std::string& y = op.output;
  if (is_4bit(g.tensor(y).dtype)) return std::nullopt;
  for (const std::string& o : g.outputs)
    if (g.storage(o) == y) return std::nullopt;
  const IOp* reader = nullptr;
  for (const IOp& p : g.ops)
    for (const std::string& x : p.inputs)
      if (g.storage(x) == y) {
        if (reader || x != y || !p.as<IRearrange>()) return std::nullopt;
        reader = &p;
      }
  if (!reader || rearrange_folded(g, *reader)) return std::nullopt;  // its readers would read y
  const StridedView& v = reader->as<IRearrange>()->view;
  const Shape& ys = g.tensor(y).shape;
  const std::optional<std::vector<int64_t>> st = out_dim_strides(v);
  if (!st || v.offset != 0 || num_elements(v.out) != num_elements(ys)) return std::nullopt;
  // Each dim of y (extent > 1) must be one output dim of the same extent whose view stride is its
  // own dense stride: then the view is a permutation and its inverse one stride per dim.
  const std::vector<int64_t> yd = dense(ys), od = dense(v.out);
  std::vector<bool> used(v.out.size(), false);
  FoldedStore f{reader, std::vector<int64_t>(ys.size(), 1)};  // extent-1 dims: never stepped
  for (size_t k = 0; k < ys.size(); ++k) {
    if (ys[k] == 1) continue;
    size_t d = 0;
    while (d < v.out.size() && (used[d] || v.out[d] != ys[k] || (*st)[d] != yd[k])) ++d;
    if (d == v.out.size()) return std::nullopt;
    used[d] = true, f.strides[k] = od[d];
  }
  for (size_t d = 0; d < v.out.size(); ++d)
    if (v.out[d] > 1 && !used[d]) return std::nullopt;
  return f;
}

bool rearrange_store_folded(const IntGraph& g, const IOp& rearrange) {
  for (const IOp& op : g.ops)
    if (op.output == rearrange.inputs[0] && op.as<IActMatmul>()) {
      const std::optional<FoldedStore> f = folded_store(g, op);
      return f && f->rearrange == &rearrange;
    }
  return false;
}

bool act_matmul_store_folded(const IntGraph& g, const IOp& op) { return folded_store(g, op).has_value(); }

bool rearrange_folded(const IntGraph& g, const IOp& rearrange) {
  bool read = false;
  for (const IOp& op : g.ops)
    for (size_t k = 0; k < op.inputs.size(); ++k)
      if (g.storage(op.inputs[k]) == rearrange.output) {
        if (!op.as<IActMatmul>() || !folded_operand(g, op, k)) return false;
        read = true;
      }
  return read;
}

}  // namespace tpusim::compiler::be
