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

NormShape norm_shape(const IntGraph& g, const IOp& op, const Arch& a) {
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  NormShape s;
  s.d = x.shape.empty() ? 1 : x.shape.back();
  s.rows = s.d ? num_elements(x.shape) / s.d : 0;
  s.in_dt = x.dtype, s.out_dt = y.dtype;
  const ISoftmax* sm = op.as<ISoftmax>();
  s.entries = sm ? static_cast<int64_t>(sm->table.size()) : 0;
  s.table_bytes =
      sm ? local_bytes(a, DType::Int32, 1, 1, 1, s.entries) : local_bytes(a, DType::Int32, 1, s.d, 1, 2);
  return s;
}

TileCode norm_code(const IntGraph& g, const IOp& op, const NormShape& s, int64_t r0, int64_t rt,
                   const Bufs& b, const DdrMap& ddr, const OpConsts& c, const Arch& a) {
  const ITensor& y = g.tensor(op.output);
  const int64_t d = s.d, rows = s.rows;
  const ISoftmax* sm = op.as<ISoftmax>();
  TileCode tc;
  if (b.load_in[0])
    tc.loads.push_back(
        dma_load(a, s.in_dt, {rt, d, 1, 1}, ddr.of(g, op.inputs[0]), r0 * d, {rows, d, 1, 1}, b.in[0]));
  if (b.load_lut)
    tc.const_loads.push_back(
        sm ? dma_load_table(DType::Int32, s.entries, std::min<int64_t>(d, a.lanes), c.table, b.lut)
           : dma_load(a, DType::Int32, {1, d, 1, 2}, c.table, 0, {1, d, 1, 2}, b.lut));
  if (sm) {
    ops::Softmax x{.dst = static_cast<int64_t>(b.out),
                   .src = static_cast<int64_t>(b.in[0]),
                   .table = static_cast<int64_t>(b.lut)};
    x.n = rt, x.c = d, x.h = 1, x.w = 1, x.in_dtype = static_cast<int64_t>(s.in_dt);
    set_requant(x, op, y, 0);
    tc.compute = {x.instr()};
  } else {
    ops::Layernorm l{.dst = static_cast<int64_t>(b.out),
                     .src = static_cast<int64_t>(b.in[0]),
                     .params = static_cast<int64_t>(b.lut)};
    l.n = rt, l.c = d, l.h = 1, l.w = 1, l.in_dtype = static_cast<int64_t>(s.in_dt),
    l.eps = op.as<ILayerNorm>()->eps;
    set_requant(l, op, y, 0);
    tc.compute = {l.instr()};
  }
  if (b.store)
    tc.stores.push_back(
        dma_store(a, s.out_dt, {rt, d, 1, 1}, b.out, ddr.of(g, op.output), r0 * d, {rows, d, 1, 1}));
  return tc;
}

OpPlanInfo emit_norm(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                     const Arch& a) {
  OpPlanInfo info;
  if (num_elements(g.tensor(op.output).shape) == 0) return info;
  const NormShape s = norm_shape(g, op, a);
  if (s.d > kMaxDim)
    throw Error(fmt::format("{}: {} over {} features exceeds the instruction's 16-bit channel field", op.name,
                            kind_name(op), s.d));
  if (op.rq.per_channel())
    throw Error(fmt::format("{}: {} requantizes per tensor only", op.name, kind_name(op)));
  const uint64_t bank = std::max<uint64_t>(a.lane_bytes / a.banks_per_lane, 4);
  std::optional<NormPlan> fit;
  for (const auto& [sets, align] : {std::pair{2, bank}, {2, uint64_t{4}}, {1, bank}, {1, uint64_t{4}}})
    if (!fit) fit = plan_norm(a, s.in_dt, s.out_dt, s.rows, s.d, s.table_bytes, sets, align);
  if (!fit)
    throw Error(fmt::format("{}: one row of {} features does not fit LMEM ({} bytes per lane)", op.name, s.d,
                            a.lane_bytes));
  const NormPlan p = *fit;
  const uint64_t sets_at = p.table_bytes;
  const int64_t tiles = ceil_div(s.rows, p.rt);
  auto make = [&](int64_t k, uint64_t base) {
    const int64_t r0 = k * p.rt;
    Bufs b;
    b.in[0] = sets_at + base + p.in_off, b.out = sets_at + base + p.out_off, b.lut = 0;
    b.load_lut = k == 0;  // the table once, below the buffer sets
    return norm_code(g, op, s, r0, std::min(p.rt, s.rows - r0), b, ddr, c, a);
  };
  schedule(e, tiles, p.sets, p.set_bytes, make);
  return {tiles, p.sets == 2, p.table_bytes + p.set_bytes * static_cast<uint64_t>(p.sets)};
}

}  // namespace tpusim::compiler::be
