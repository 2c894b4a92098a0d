// Back end, --opt 2: rearranges folded into the act_matmuls beside them (codegen_fold.h).
#include "compiler/codegen_fold.h"

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

struct Reader {
  const IOp* op;
  std::string name;  // the tensor name it reads (the storage or a view of it)
};

// The graph's producers and readers, indexed once.
struct Uses {
  std::map<std::string, const IOp*> producer;          // by output
  std::map<std::string, std::vector<Reader>> readers;  // by storage
  std::set<std::string> outputs;                       // storages of graph outputs
  explicit Uses(const IntGraph& g) {
    for (const IOp& op : g.ops) {
      producer[op.output] = &op;
      for (const std::string& in : op.inputs) readers[g.storage(in)].push_back({&op, in});
    }
    for (const std::string& o : g.outputs) outputs.insert(g.storage(o));
  }
  const std::vector<Reader>& of(const std::string& storage) const {
    static const std::vector<Reader> none;
    const auto it = readers.find(storage);
    return it == readers.end() ? none : it->second;
  }
};

std::optional<FoldedOperand> fold_operand(const IntGraph& g, const Uses& u, const std::string& in) {
  const auto p = u.producer.find(in);
  if (p == u.producer.end() || !p->second->as<IRearrange>() || !g.tensor(in).view_of.empty() ||
      is_4bit(g.tensor(in).dtype) || u.outputs.count(in))
    return std::nullopt;
  for (const Reader& r : u.of(in))
    if (r.name != in || !r.op->as<IActMatmul>()) return std::nullopt;
  const std::optional<std::vector<int64_t>> st = out_dim_strides(p->second->as<IRearrange>()->view);
  if (!st) return std::nullopt;
  FoldedOperand f{p->second, *st};
  const Shape& shape = g.tensor(in).shape;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] > 1 && f.strides[d] <= 0) return std::nullopt;
    if (shape[d] == 1) f.strides[d] = 1;  // never stepped; a DMA destination stride must not be 0
  }
  return f;
}

std::optional<FoldedStore> fold_store(const IntGraph& g, const Uses& u, const IOp& op,
                                      const std::set<std::string>& read_through) {
  const std::string& y = op.output;
  const std::vector<Reader>& readers = u.of(y);
  if (is_4bit(g.tensor(y).dtype) || u.outputs.count(y) || readers.size() != 1 || readers[0].name != y ||
      !readers[0].op->as<IRearrange>() || read_through.count(readers[0].op->output))
    return std::nullopt;
  const IOp* reader = readers[0].op;
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

}  // namespace

ViewFolds::ViewFolds(const IntGraph& g) {
  const Uses u(g);
  // Input side first: a rearrange read through is never also written by a store fold.
  for (const IOp& op : g.ops)
    if (op.as<IActMatmul>())
      for (size_t k = 0; k < 2; ++k)
        if ((operands_[op.output][k] = fold_operand(g, u, op.inputs[k])))
          read_through_.insert(operands_[op.output][k]->rearrange->output);
  for (const IOp& op : g.ops)
    if (op.as<IActMatmul>())
      if (std::optional<FoldedStore> s = fold_store(g, u, op, read_through_)) {
        written_.insert(s->rearrange->output);
        stores_[op.output] = std::move(*s);
      }
}

const FoldedOperand* ViewFolds::operand(const IOp& act_matmul, size_t k) const {
  const auto it = operands_.find(act_matmul.output);
  return it == operands_.end() || !it->second[k] ? nullptr : &*it->second[k];
}

const FoldedStore* ViewFolds::store(const IOp& act_matmul) const {
  const auto it = stores_.find(act_matmul.output);
  return it == stores_.end() ? nullptr : &it->second;
}

}  // namespace tpusim::compiler::be
