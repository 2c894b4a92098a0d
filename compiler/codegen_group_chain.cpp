// Back end, layer groups: which ops form a chain, how each reads its inputs, and the choice of
// the groups the resident schedule runs (docs/compiler.md, "Schedules"). A chain may hold skip
// connections: an eltwise whose other input is the chain's input or an earlier op's output reads
// that band from LMEM instead of DDR, so a residual block runs as one group and the tensor both
// branches read never goes to DDR.
#include "compiler/codegen.h"

namespace tpusim::compiler::be {

bool window_op(const IOp& op) {
  return op.as<IConv>() || op.as<IPool>() || op.as<IEltwise>() || op.as<ILut>() || op.as<IRequant>();
}

namespace {

// The eltwise with its two inputs exchanged: the same values, since add, mul and max are symmetric.
IOp swap_inputs(const IOp& op) {
  IOp s = op;
  std::swap(s.inputs[0], s.inputs[1]);
  IEltwise e = *op.as<IEltwise>();
  std::swap(e.a_zp, e.b_zp);
  std::swap(e.a_rescale, e.b_rescale);
  s.kind = e;
  return s;
}

}  // namespace

std::map<std::string, int> tensor_uses(const IntGraph& g) {
  std::map<std::string, int> uses;
  for (const IOp& op : g.ops)
    for (const std::string& in : op.inputs) ++uses[g.storage(in)];
  for (const std::string& o : g.outputs) uses[g.storage(o)] += 2;
  return uses;
}

std::optional<std::vector<ChainOp>> make_chain(const IntGraph& g, const std::map<std::string, int>& uses,
                                               size_t first, size_t last) {
  std::vector<ChainOp> chain;
  const std::string chain_input = g.storage(g.ops[first].inputs[0]);
  std::map<std::string, int> inside;  // readers of each chain output within the chain
  for (size_t j = first; j <= last; ++j) {
    const IOp& op = g.ops[j];
    if (!window_op(op)) return std::nullopt;
    ChainOp c;
    c.graph_op = &op;
    if (j > first) {
      const std::string& prev = g.ops[j - 1].output;
      const bool two = op.inputs.size() == 2;
      if (two && op.inputs[0] == op.inputs[1]) return std::nullopt;
      if (op.inputs[0] != prev) {
        if (!two || !op.as<IEltwise>() || op.inputs[1] != prev) return std::nullopt;
        c.swapped = true, c.swapped_op = swap_inputs(op);
      }
      ++inside[prev];
      const WindowShape s = window_shape(g, c.op());
      if (s.broadcast[0]) return std::nullopt;
      if (two && !s.broadcast[1]) {
        const std::string other = g.storage(c.op().inputs[1]);
        if (other == chain_input) c.skip = kSkipFromChainInput;
        for (size_t k = first; k + 1 < j; ++k)
          if (g.ops[k].output == other) c.skip = static_cast<int64_t>(k - first), ++inside[other];
      }
    }
    chain.push_back(std::move(c));
  }
  for (size_t j = first; j < last; ++j) {
    const auto u = uses.find(g.ops[j].output);
    if (u == uses.end() || u->second != inside[g.ops[j].output]) return std::nullopt;
  }
  return chain;
}

size_t chain_end(const IntGraph& g, size_t first) {
  size_t end = first;
  while (end + 1 < g.ops.size() && end - first + 1 < kMaxChain && window_op(g.ops[end + 1])) {
    const IOp& next = g.ops[end + 1];
    const std::string& prev = g.ops[end].output;
    if (next.inputs[0] != prev && (next.inputs.size() < 2 || next.inputs[1] != prev)) break;
    ++end;
  }
  return end;
}

std::vector<GroupPlan> form_groups(const IntGraph& g, const Arch& a, std::vector<bool>& fits_whole) {
  const size_t n = g.ops.size();
  const std::map<std::string, int> uses = tensor_uses(g);
  std::vector<GroupPlan> groups;
  // Greedy in program order: at each window op that does not fit LMEM whole, the chain of 2-8
  // window ops (each reading the previous one's output) whose plan saves most against running them
  // one by one. (A global choice, the non-overlapping chains of largest total estimated saving, was
  // tried: on residual blocks it picked shorter chains that simulated 2-4% slower, so the
  // estimate is not yet good enough to be searched over; docs/compiler.md, "Schedules".)
  for (size_t i = 0; i < n; ++i) {
    if (fits_whole[i] || !window_op(g.ops[i])) continue;
    GroupPlan best;
    for (size_t last = chain_end(g, i); last > i; --last) {
      const auto chain = make_chain(g, uses, i, last);
      if (!chain) continue;
      GroupPlan p = plan_group(g, *chain, i, a);
      if (p.rows && p.cost < p.alone && (best.rows == 0 || p.alone - p.cost > best.alone - best.cost))
        best = std::move(p);
    }
    if (!best.rows) continue;
    for (size_t k = best.first; k <= best.last; ++k) fits_whole[k] = false;
    i = best.last;
    groups.push_back(std::move(best));
  }
  return groups;
}

}  // namespace tpusim::compiler::be
