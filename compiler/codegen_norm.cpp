// Back end code generation of ILayerNorm and ISoftmax: reductions over the last axis. A tensor
// [..., D] is compact [rows, D] in DDR, which is exactly the layout of [rows, D, 1, 1], the
// instructions' view (features across the lanes, reduced per row). Tiles are bands of whole
// rows (a row is never split: the reduction needs all of it), double-buffered when two sets fit.
// The op's table — softmax's exp table, one copy per lane, or layernorm's (g, b) pair per
// feature — is loaded once, below the buffer sets.
#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "compiler/codegen.h"

namespace tpusim::compiler::be {

namespace {

constexpr int64_t kTargetTiles = 8;  // enough bands for loads, compute and stores to overlap

struct NormPlan {
  int64_t rows = 0, d = 0, rt = 0;
  int sets = 1;
  uint64_t table_bytes = 0, set_bytes = 0, in_off = 0, out_off = 0;
};

// The largest band of rows (even when a 4-bit band could start at an odd element) whose buffers
// fit beside the table with `sets` sets, capped so there are about kTargetTiles bands.
// With align = the bank size, the table, input and output sit in different banks (no TIU
// bank-conflict stalls).
std::optional<NormPlan> plan_norm(const Arch& a, DType in_dt, DType out_dt, int64_t rows, int64_t d,
                                  uint64_t table_bytes, int sets, uint64_t align) {
  NormPlan p;
  p.rows = rows, p.d = d, p.sets = sets;
  p.table_bytes = align_up(table_bytes, align);
  const bool even = (is_4bit(in_dt) || is_4bit(out_dt)) && d % 2 && rows > 1;
  const auto set_size = [&](int64_t rt) {
    SetLayout l{align};
    l.place(local_bytes(a, in_dt, rt, d, 1, 1));
    l.place(local_bytes(a, out_dt, rt, d, 1, 1));
    return l.size();
  };
  int64_t rt = std::min({rows, kMaxDim - 1, std::max<int64_t>(ceil_div(rows, kTargetTiles), 1)});
  if (even && rt % 2) ++rt;
  while (rt > 0 && p.table_bytes + set_size(rt) * static_cast<uint64_t>(sets) > a.lane_bytes)
    rt = even ? rt - 2 : rt - 1;
  if (rt <= 0) return std::nullopt;
  p.rt = rt;
  SetLayout l{align};
  p.in_off = l.place(local_bytes(a, in_dt, rt, d, 1, 1));
  p.out_off = l.place(local_bytes(a, out_dt, rt, d, 1, 1));
  p.set_bytes = l.size();
  return p;
}

}  // namespace

OpPlanInfo emit_norm(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                     const Arch& a) {
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  OpPlanInfo info;
  if (num_elements(y.shape) == 0) return info;
  const int64_t d = x.shape.back(), rows = num_elements(x.shape) / d;
  if (d > kMaxDim)
    throw Error(fmt::format("{}: {} over {} features exceeds the instruction's 16-bit channel field", op.name,
                            kind_name(op), d));
  if (op.rq.per_channel())
    throw Error(fmt::format("{}: {} requantizes per tensor only", op.name, kind_name(op)));
  const ISoftmax* sm = op.as<ISoftmax>();
  const auto entries = sm ? static_cast<int64_t>(sm->table.size()) : 0;
  const uint64_t table_bytes =
      sm ? local_bytes(a, DType::Int32, 1, 1, 1, entries) : local_bytes(a, DType::Int32, 1, d, 1, 2);
  const uint64_t bank = std::max<uint64_t>(a.lane_bytes / a.banks_per_lane, 4);
  std::optional<NormPlan> fit;
  for (const auto& [sets, align] : {std::pair{2, bank}, {2, uint64_t{4}}, {1, bank}, {1, uint64_t{4}}})
    if (!fit) fit = plan_norm(a, x.dtype, y.dtype, rows, d, table_bytes, sets, align);
  if (!fit)
    throw Error(fmt::format("{}: one row of {} features does not fit LMEM ({} bytes per lane)", op.name, d,
                            a.lane_bytes));
  const NormPlan p = *fit;
  const uint64_t table = 0, sets_at = p.table_bytes;
  const int64_t tiles = ceil_div(rows, p.rt);
  const uint64_t in_ddr = ddr.of(g, op.inputs[0]), out_ddr = ddr.of(g, op.output);
  auto make = [&](int64_t k, uint64_t base) {
    const int64_t r0 = k * p.rt, rt = std::min(p.rt, rows - r0);
    const uint64_t in = sets_at + base + p.in_off, out = sets_at + base + p.out_off;
    TileCode tc;
    tc.loads.push_back(dma_load(a, x.dtype, {rt, d, 1, 1}, in_ddr, r0 * d, {rows, d, 1, 1}, in));
    if (k == 0)
      tc.const_loads.push_back(
          sm ? dma_load_table(DType::Int32, entries, std::min<int64_t>(d, a.lanes), c.table, table)
             : dma_load(a, DType::Int32, {1, d, 1, 2}, c.table, 0, {1, d, 1, 2}, table));
    if (sm) {
      ops::Softmax s{.dst = static_cast<int64_t>(out),
                     .src = static_cast<int64_t>(in),
                     .table = static_cast<int64_t>(table)};
      s.n = rt, s.c = d, s.h = 1, s.w = 1, s.in_dtype = static_cast<int64_t>(x.dtype);
      set_requant(s, op, y, 0);
      tc.compute = {s.instr()};
    } else {
      const ILayerNorm& ln = *op.as<ILayerNorm>();
      ops::Layernorm l{.dst = static_cast<int64_t>(out),
                       .src = static_cast<int64_t>(in),
                       .params = static_cast<int64_t>(table)};
      l.n = rt, l.c = d, l.h = 1, l.w = 1, l.in_dtype = static_cast<int64_t>(x.dtype), l.eps = ln.eps;
      set_requant(l, op, y, 0);
      tc.compute = {l.instr()};
    }
    tc.stores.push_back(dma_store(a, y.dtype, {rt, d, 1, 1}, out, out_ddr, r0 * d, {rows, d, 1, 1}));
    return tc;
  };
  schedule(e, tiles, p.sets, p.set_bytes, make);
  return {tiles, p.sets == 2, p.table_bytes + p.set_bytes * static_cast<uint64_t>(p.sets)};
}

}  // namespace tpusim::compiler::be
