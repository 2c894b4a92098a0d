// Back end, layer groups (--opt 1): a chain of window ops too large to sit in LMEM whole runs
// slice by slice along the last op's output rows. Each slice's rows are traced backwards through
// the chain (every op computes the rows the next one reads, halos included, recomputed where
// slices overlap), the intermediates stay in LMEM, every op's weights are loaded once, and only
// the first op's input (and other inputs from outside the chain) come from DDR, only the last
// op's output goes to it. Two buffer sets when they fit, so slice k+1 loads while k computes.
// A skip connection (an eltwise reading the chain's input or an earlier op's output, see
// codegen_group_chain.cpp) reads that band in LMEM: directly when its rows are the eltwise's, else
// through a dma.copy of its rows into the eltwise's operand buffer (TIU operands are compact).
// A chain is formed only when a cost estimate says it beats running its ops one by one
// (docs/compiler.md, "Schedules").
#include <algorithm>
#include <cmath>

#include "compiler/codegen.h"

namespace tpusim::compiler::be {

namespace {

struct Band {
  int64_t r0, rows;  // output rows of the op
  WindowTile t;      // with the input rows [lo, hi) and padding they need
};

// The tile of output rows [r0, r0 + rows), all batch and channels, as window_tiles() would cut it.
WindowTile band_tile(const WindowShape& s, int64_t r0, int64_t rows) {
  WindowTile t{};
  t.n0 = 0, t.nt = s.n, t.o0 = 0, t.oct = s.oc, t.r0 = r0, t.rows = rows, t.i0 = 0;
  t.ict = s.grouped ? s.oc / s.ocpg * s.icpg : s.ic;
  const int64_t start = r0 * s.sh - s.pad_t, end = (r0 + rows - 1) * s.sh - s.pad_t + (s.kh - 1) * s.dh + 1;
  t.lo = std::max<int64_t>(0, start), t.hi = std::min(s.ih, end);
  t.pad_t = t.lo - start, t.pad_b = end - t.hi;
  return t;
}

// TIU cycles per output row of an op, as docs/timing.md models them: the MAC array takes
// ceil(oc / lanes) * ceil(K / MACs per lane) cycles per output pixel; pools a window per pixel;
// eltwise, requant and lut stream MACs-per-lane elements per cycle.
double tiu_cycles_per_row(const IOp& op, const WindowShape& s, const Arch& a) {
  const double lanes = double(ceil_div(s.oc, int64_t{a.lanes})), mpl = a.macs_per_lane;
  if (s.weights) {
    const double eff = mpl * (is_4bit(s.in_dt) && is_4bit(s.w_dt) ? a.int4_speedup : 1);
    return lanes * std::ceil(double(s.icpg * s.kh * s.kw) / eff) * double(s.n * s.ow);
  }
  if (op.as<IPool>()) return lanes * double(s.n * s.ow) * std::ceil(double(s.kh * s.kw) / mpl);
  return lanes * double(s.n * s.ow) / mpl;
}

// Slices of the chain for `rows` output rows of its last op: bands[slice][k] for op first + k.
std::vector<std::vector<Band>> slice_chain(const std::vector<WindowShape>& ws, int64_t rows) {
  std::vector<std::vector<Band>> out;
  const WindowShape& last = ws.back();
  for (int64_t r0 = 0; r0 < last.oh; r0 += rows) {
    std::vector<Band> bands(ws.size());
    int64_t b0 = r0, br = std::min(rows, last.oh - r0);
    for (size_t k = ws.size(); k-- > 0;) {
      bands[k] = {b0, br, band_tile(ws[k], b0, br)};
      b0 = bands[k].t.lo, br = bands[k].t.hi - bands[k].t.lo;
    }
    out.push_back(std::move(bands));
  }
  return out;
}

// Where slice `sl`'s skip connection into op k lies: the source band (its first row `lo`, its rows,
// and which buffer: the chain input's or op `skip`'s output) and the consumer's row offset in it.
struct SkipView {
  bool ok = false;    // the source band holds the consumer's rows and can be addressed
  bool copy = false;  // the rows differ: copied into the consumer's own operand buffer
  int64_t src_rows = 0, off = 0, c = 0;
};

SkipView skip_view(const std::vector<WindowShape>& ws, const std::vector<Band>& sl, size_t k, int64_t skip) {
  SkipView v;
  const WindowShape& e = ws[k];
  int64_t lo, c, w;
  if (skip == kSkipFromChainInput) {
    lo = sl[0].t.lo, v.src_rows = sl[0].t.hi - sl[0].t.lo, c = ws[0].ic, w = ws[0].iw;
  } else {
    const auto s = static_cast<size_t>(skip);
    lo = sl[s].r0, v.src_rows = sl[s].rows, c = ws[s].oc, w = ws[s].ow;
  }
  v.c = c, v.off = sl[k].r0 - lo;
  v.copy = v.off != 0 || v.src_rows != sl[k].rows;
  // 4-bit rows must start on a whole byte for the copy's source offset.
  v.ok = c == e.ic && w == e.iw && ws[0].n == e.n && v.off >= 0 && v.off + sl[k].rows <= v.src_rows &&
         !(is_4bit(e.in_dt2) && (v.off * w) % 2);
  return v;
}

}  // namespace

std::vector<GroupPlan> plan_group_options(const IntGraph& g, const std::vector<ChainOp>& chain, size_t first,
                                          const Arch& a, size_t most) {
  std::vector<GroupPlan> plans;  // every feasible slicing, without the chain (added to the kept ones)
  std::vector<WindowShape> ws;
  for (const ChainOp& c : chain) ws.push_back(window_shape(g, c.op()));
  const double bw = a.ddr_bytes_per_cycle;
  // Alone: each op moves its input, weights and output and overlaps them with its MACs.
  double alone = 0;
  uint64_t consts = 0;
  std::vector<double> tiu_per_row(ws.size());
  for (size_t k = 0; k < ws.size(); ++k) {
    const WindowShape& s = ws[k];
    tiu_per_row[k] = tiu_cycles_per_row(chain[k].op(), s, a);
    const double bytes = double(packed_bytes(s.in_dt, uint64_t(s.n * s.ic * s.ih * s.iw)) * s.n_inputs) +
                         double(packed_bytes(s.out_dt, uint64_t(s.n * s.oc * s.oh * s.ow)));
    alone += std::max(tiu_per_row[k] * double(s.oh), bytes / bw) + 2.0 * a.ddr_latency;
    consts += const_bytes(s, a).total();
  }
  const WindowShape& last = ws.back();
  for (int sets : {2, 1})
    for (int64_t rows = last.oh; rows >= 1; --rows) {
      const auto slices = slice_chain(ws, rows);
      if (slices.size() < 2) continue;  // one slice: the ops fit whole (the resident schedule's case)
      uint64_t per_set = 0;
      double tiu = 0, copy_cycles = 0,
             bytes = double(packed_bytes(last.out_dt, uint64_t(last.n * last.oc * last.oh * last.ow)));
      bool feasible = true;  // whole-byte 4-bit DDR blocks, addressable skip bands
      int skips = 0;
      for (size_t k = 0; k < ws.size(); ++k) {
        const WindowShape& s = ws[k];
        const bool skip = k > 0 && chain[k].skip != kSkipFromDdr;
        skips += skip;
        int64_t in_rows = 0, out_rows = 0;
        for (const auto& sl : slices) {
          in_rows = std::max(in_rows, sl[k].t.hi - sl[k].t.lo), out_rows = std::max(out_rows, sl[k].rows);
          tiu += tiu_per_row[k] * double(sl[k].rows) + a.tiu_startup;
          const int inputs_from_ddr = k == 0 ? s.n_inputs : s.n_inputs - 1 - skip;
          bytes += double(inputs_from_ddr) *
                   double(packed_bytes(s.in_dt, uint64_t(s.n * s.ic * (sl[k].t.hi - sl[k].t.lo) * s.iw)));
          if (skip) {
            const SkipView v = skip_view(ws, sl, k, chain[k].skip);
            if (!v.ok) feasible = false;
            if (v.copy)
              copy_cycles += a.gdma_startup + double(local_bytes(a, s.in_dt2, s.n, s.ic, sl[k].rows, s.iw)) *
                                                  double(a.lanes) / a.lmem_copy_bytes_per_cycle;
          }
          // 4-bit DDR blocks start on whole bytes: the first op's input, the last op's output.
          if (k == 0 && is_4bit(s.in_dt) && (sl[k].t.lo * s.iw) % 2) feasible = false;
          if (k + 1 == ws.size() && is_4bit(s.out_dt) && (sl[k].r0 * s.ow) % 2) feasible = false;
          if (s.n_inputs > 1 && !skip && is_4bit(s.in_dt2) && !s.broadcast[1] && (sl[k].t.lo * s.iw) % 2)
            feasible = false;
        }
        const int inputs_in_lmem = k == 0 ? s.n_inputs : s.n_inputs - 1;
        for (int i = k == 0 ? 0 : 1; i < inputs_in_lmem + (k == 0 ? 0 : 1); ++i)
          per_set += local_bytes(a, i ? s.in_dt2 : s.in_dt, s.n, s.ic, in_rows, s.iw);
        per_set += local_bytes(a, s.out_dt, s.n, s.oc, out_rows, s.ow);
      }
      if (!feasible || consts + uint64_t(sets) * per_set > a.lane_bytes) continue;
      bytes += double(consts) * double(a.lanes);
      // Loads of a slice overlap the previous slice's compute; the first load and the last
      // store do not. Skip copies share the GDMA with the loads.
      const double cost = std::max(tiu, bytes / bw + double(slices.size()) * a.gdma_startup + copy_cycles) +
                          a.gdma_startup + 3.0 * a.ddr_latency;
      GroupPlan p;
      p.first = first, p.last = first + chain.size() - 1, p.rows = rows, p.sets = sets;
      p.cost = cost, p.alone = alone, p.lmem_bytes = consts + uint64_t(sets) * per_set, p.skips = skips;
      plans.push_back(std::move(p));
    }
  // Cheapest first; among equals the order above (two sets, then more rows per slice).
  std::stable_sort(plans.begin(), plans.end(),
                   [](const GroupPlan& x, const GroupPlan& y) { return x.cost < y.cost; });
  if (plans.size() > most) plans.resize(most);
  for (GroupPlan& p : plans) p.chain = chain;
  return plans;
}

GroupPlan plan_group(const IntGraph& g, const std::vector<ChainOp>& chain, size_t first, const Arch& a) {
  std::vector<GroupPlan> best = plan_group_options(g, chain, first, a, 1);
  return best.empty() ? GroupPlan{} : std::move(best[0]);
}

void emit_group(Emitter& e, const IntGraph& g, const DdrMap& ddr, const Arch& a, const GroupPlan& plan,
                std::vector<OpEmitted>& out) {
  const std::vector<ChainOp>& chain = plan.chain;
  std::vector<WindowShape> ws;
  for (const ChainOp& c : chain) ws.push_back(window_shape(g, c.op()));
  const auto slices = slice_chain(ws, plan.rows);
  const size_t K = ws.size();
  // LMEM: every op's constants, then per buffer set each op's DDR inputs and its output band.
  std::vector<Bufs> base(K);
  uint64_t at = 0;
  for (size_t k = 0; k < K; ++k) at = const_bytes(ws[k], a).place(base[k], at);
  std::vector<std::vector<Bufs>> sets(static_cast<size_t>(plan.sets), base);
  for (auto& set : sets)
    for (size_t k = 0; k < K; ++k) {
      const WindowShape& s = ws[k];
      int64_t in_rows = 0, out_rows = 0;
      for (const auto& sl : slices)
        in_rows = std::max(in_rows, sl[k].t.hi - sl[k].t.lo), out_rows = std::max(out_rows, sl[k].rows);
      for (int i = 0; i < s.n_inputs; ++i) {
        if (k > 0 && i == 0) continue;  // the previous op's output band
        set[k].in[i] = at, at += local_bytes(a, i ? s.in_dt2 : s.in_dt, s.n, s.ic, in_rows, s.iw);
      }
      set[k].out = at, at += local_bytes(a, s.out_dt, s.n, s.oc, out_rows, s.ow);
      if (k > 0) set[k].in[0] = set[k - 1].out, set[k].load_in[0] = false;
      if (k > 0 && chain[k].skip != kSkipFromDdr) set[k].load_in[1] = false;
      set[k].store = k + 1 == K;
    }
  // A skip connection's operand in slice j: the source band itself, or (emitted here) a dma.copy
  // of the consumer's rows out of it.
  auto skip_operand = [&](size_t j, size_t k, bool emit) {
    const std::vector<Bufs>& set = sets[j % sets.size()];
    const SkipView v = skip_view(ws, slices[j], k, chain[k].skip);
    const uint64_t src =
        chain[k].skip == kSkipFromChainInput ? set[0].in[0] : set[static_cast<size_t>(chain[k].skip)].out;
    if (!v.copy) return src;
    const WindowShape& s = ws[k];
    const int64_t rows = slices[j][k].rows, slots = ceil_div(s.ic, int64_t{a.lanes});
    if (emit)
      e.gdma(strided_copy(s.in_dt2, {s.n, s.ic, rows, s.iw},
                          int64_t(src) + int64_t(packed_bytes(s.in_dt2, uint64_t(v.off * s.iw))),
                          {slots * v.src_rows * s.iw, v.src_rows * s.iw, s.iw, 1}, int64_t(set[k].in[1]),
                          {slots * rows * s.iw, rows * s.iw, s.iw, 1}));
    return set[k].in[1];
  };
  // Code per slice: loads of slice j + sets follow the stores of slice j (schedule()'s order).
  auto code = [&](size_t j, size_t k, bool emit_copy) {
    Bufs b = sets[j % sets.size()][k];
    b.load_consts = b.load_lut = j == 0;
    if (k > 0 && chain[k].skip != kSkipFromDdr) b.in[1] = skip_operand(j, k, emit_copy);
    return window_code(g, chain[k].op(), ws[k], slices[j][k].t, b, ddr, ddr.consts[plan.first + k], a);
  };
  auto loads = [&](size_t j) {
    if (j >= slices.size()) return;
    for (size_t k = 0; k < K; ++k) {
      e.node = g.ops[plan.first + k].name;
      const TileCode tc = code(j, k, false);
      if (!tc.const_loads.empty()) e.gdma_consts(tc.const_loads, tc.consts_lo, tc.consts_hi);
      for (const Instr& in : tc.loads) e.gdma(in);
    }
  };
  for (size_t j = 0; j < sets.size(); ++j) loads(j);
  for (size_t j = 0; j < slices.size(); ++j) {
    for (size_t k = 0; k < K; ++k) {
      e.node = g.ops[plan.first + k].name;
      for (const Instr& in : code(j, k, true).compute) e.tiu(in);
    }
    e.node = g.ops[plan.last].name;
    for (const Instr& in : code(j, K - 1, false).stores) e.gdma(in);
    loads(j + sets.size());
  }
  for (size_t k = 0; k < K; ++k) {
    OpEmitted rec;
    rec.info = {static_cast<int64_t>(slices.size()), plan.sets == 2, at};
    rec.group = true, rec.kept_input = k > 0, rec.stored = k + 1 == K;
    rec.group_first = plan.first, rec.group_estimate = plan.cost;
    rec.skip_from_lmem = k > 0 && chain[k].skip != kSkipFromDdr;
    out.push_back(rec);
  }
}

}  // namespace tpusim::compiler::be
