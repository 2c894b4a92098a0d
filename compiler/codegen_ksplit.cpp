// Back end: a matmul whose weights for even one column per lane do not fit LMEM (a classifier's
// 25,088-long rows on `edge`) runs with its reduction split into chunks. Chunk 0's matmul writes
// the INT32 accumulator itself (output type int32, identity requant, bias added); every later
// chunk's matmul writes an INT32 partial sum that an eltwise add (identity rescales, int32 output)
// adds into the accumulator; after the last chunk a requant instruction applies the op's requant
// tail. The accumulator never leaves LMEM. This equals the one-instruction matmul bit for bit
// whenever no partial sum can saturate int32 (the reference saturates once, at the end): that is
// proven from the weights, bias and input range before any code is emitted, else the op is refused.
#include "compiler/codegen_ksplit.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "base/error.h"
#include "compiler/codegen.h"

namespace tpusim::compiler::be {

namespace {

struct KsplitPlan {
  int64_t mt = 1, jt = 1, kc = 1;
  int sets = 1;
  uint64_t acc_off = 0, out_off = 0, shared_bytes = 0;               // shared by every step
  uint64_t in_off = 0, w_off = 0, t_off = 0, b_off = 0, rq_off = 0;  // within a set
  uint64_t set_bytes = 0;
};

// The set's bias and rq table sit beside the chunk that reads them (chunk 0 / the last chunk), so a
// prefetch of the next tile's tables never overwrites ones a queued instruction still reads.
std::optional<KsplitPlan> layout(const MatmulShape& s, const Arch& a, int64_t mt, int64_t jt, int64_t kc,
                                 int sets) {
  KsplitPlan p;
  p.mt = mt, p.jt = jt, p.kc = kc, p.sets = sets;
  SetLayout shared{4};  // local_bytes() are multiples of 4: int32 operands stay aligned
  p.acc_off = shared.place(local_bytes(a, DType::Int32, mt, jt, 1, 1));
  p.out_off = shared.place(local_bytes(a, s.out_dt, mt, jt, 1, 1));
  p.shared_bytes = shared.size();
  SetLayout set{4};
  p.in_off = set.place(local_bytes(a, s.in_dt, mt, kc, 1, 1));
  p.w_off = set.place(local_bytes(a, s.w_dt, 1, jt, 1, kc));
  p.t_off = set.place(local_bytes(a, DType::Int32, mt, jt, 1, 1));
  if (s.bias) p.b_off = set.place(local_bytes(a, DType::Int32, 1, jt, 1, 1));
  if (s.rq_table) p.rq_off = set.place(local_bytes(a, DType::Int32, 1, jt, 1, 2));
  p.set_bytes = set.size();
  if (p.shared_bytes + p.set_bytes * uint64_t(sets) > a.lane_bytes) return std::nullopt;
  return p;
}

bool even(DType t, int64_t elem) { return !is_4bit(t) || elem % 2 == 0; }

// 4-bit operands start on whole bytes in every step.
bool aligned(const MatmulShape& s, const KsplitPlan& p) {
  for (int64_t m0 = 0; m0 < s.m; m0 += p.mt)
    for (int64_t j0 = 0; j0 < s.n; j0 += p.jt)
      for (int64_t k0 = 0; k0 < s.k; k0 += p.kc)
        if (!even(s.in_dt, m0 * s.k + k0) || !even(s.w_dt, j0 * s.k + k0) || !even(s.out_dt, m0 * s.n + j0))
          return false;
  return true;
}

// One column per lane (the least weight per lane), all rows, the longest chunk that fits; two
// sets (the next chunk loads while this one computes) when a chunk of at least a quarter of the
// single-set one fits them.
std::optional<KsplitPlan> plan_ksplit(const MatmulShape& s, const Arch& a) {
  const int64_t jt = std::min<int64_t>(s.n, a.lanes);
  for (int64_t mt = s.m; mt >= 1; mt = mt > 1 ? ceil_div(mt, 2) : 0) {
    int64_t best[3] = {0, 0, 0};  // by sets
    for (int sets : {1, 2}) {
      // The largest kc that fits, by bisection (bytes grow with kc); the matmul's k field and the
      // DMA's c field hold 16 bits.
      int64_t lo = 0, hi = std::min<int64_t>(s.k, kMaxMatmulK);
      while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (layout(s, a, mt, jt, mid, sets))
          lo = mid;
        else
          hi = mid - 1;
      }
      best[sets] = lo;
    }
    for (int sets : {2, 1}) {
      if (best[sets] < 1 || (sets == 2 && best[2] * 4 < best[1])) continue;
      for (int64_t kc = best[sets]; kc >= std::max<int64_t>(1, best[sets] - 2); --kc) {
        auto p = layout(s, a, mt, jt, kc, sets);
        if (p && aligned(s, *p)) return p;
      }
    }
  }
  return std::nullopt;
}

struct Step {
  int64_t m0, mt, j0, jt, k0, kc;
  bool first, last;
};

}  // namespace

OpPlanInfo emit_matmul_ksplit(Emitter& e, const IntGraph& g, const IOp& op, const MatmulShape& s,
                              const DdrMap& ddr, const OpConsts& c, const Arch& a) {
  const IMatmul& mm = *op.as<IMatmul>();
  check_no_saturation(op, mm.weight, mm.bias, s.k, s.in_dt, mm.in_zp);
  const std::optional<KsplitPlan> plan = plan_ksplit(s, a);
  if (!plan)
    throw Error(fmt::format("{}: no tiling fits LMEM ({} bytes per lane), even with the reduction split",
                            op.name, a.lane_bytes));
  const KsplitPlan& p = *plan;
  std::vector<Step> steps;
  for (int64_t m0 = 0; m0 < s.m; m0 += p.mt)
    for (int64_t j0 = 0; j0 < s.n; j0 += p.jt)
      for (int64_t k0 = 0; k0 < s.k; k0 += p.kc)
        steps.push_back({m0, std::min(p.mt, s.m - m0), j0, std::min(p.jt, s.n - j0), k0,
                         std::min(p.kc, s.k - k0), k0 == 0, k0 + p.kc >= s.k});
  const uint64_t x_ddr = ddr.of(g, op.inputs[0]), y_ddr = ddr.of(g, op.output);
  auto make = [&](int64_t k, uint64_t set) {
    const Step& st = steps[static_cast<size_t>(k)];
    const uint64_t base = p.shared_bytes + set;
    const uint64_t in = base + p.in_off, w = base + p.w_off, part = base + p.t_off;
    TileCode tc;
    tc.loads.push_back(
        dma_load(a, s.in_dt, {st.mt, st.kc, 1, 1}, x_ddr, st.m0 * s.k + st.k0, {s.m, s.k, 1, 1}, in));
    tc.const_loads.push_back(
        dma_load(a, s.w_dt, {1, st.jt, 1, st.kc}, c.weight, st.j0 * s.k + st.k0, {1, s.n, 1, s.k}, w));
    if (st.first && s.bias)
      tc.const_loads.push_back(
          dma_load(a, DType::Int32, {1, st.jt, 1, 1}, c.bias, st.j0, {1, s.n, 1, 1}, base + p.b_off));
    if (st.last && s.rq_table)
      tc.const_loads.push_back(
          dma_load(a, DType::Int32, {1, st.jt, 1, 2}, c.rq, st.j0 * 2, {1, s.n, 1, 2}, base + p.rq_off));
    ops::Matmul m;
    m.dst = static_cast<int64_t>(st.first ? p.acc_off : part), m.src = static_cast<int64_t>(in);
    m.weight = static_cast<int64_t>(w);
    m.bias = st.first && s.bias ? static_cast<int64_t>(base + p.b_off) : 0;
    m.m = st.mt, m.k = st.kc, m.n = st.jt, m.in_dtype = static_cast<int64_t>(s.in_dt);
    m.w_dtype = static_cast<int64_t>(s.w_dt), m.in_zp = mm.in_zp, m.has_bias = st.first && s.bias ? 1 : 0;
    identity_requant(m);
    tc.compute.push_back(m.instr());
    const Dims acc{st.mt, st.jt, 1, 1};
    if (!st.first) tc.compute.push_back(accumulate(p.acc_off, part, acc));
    if (st.last) {  // the op's own requant tail, then the output tile to DDR
      tc.compute.push_back(requant_acc(op, g.tensor(op.output), p.acc_off, p.out_off, base + p.rq_off, acc));
      tc.stores.push_back(dma_store(a, s.out_dt, {st.mt, st.jt, 1, 1}, p.out_off, y_ddr, st.m0 * s.n + st.j0,
                                    {s.m, s.n, 1, 1}));
    }
    return tc;
  };
  const auto n = static_cast<int64_t>(steps.size());
  schedule(e, n, p.sets, p.set_bytes, make);
  return {n, p.sets == 2 && n > 1, p.shared_bytes + p.set_bytes * uint64_t(p.sets)};
}

void check_no_saturation(const IOp& op, const std::vector<int8_t>& weight, const std::vector<int32_t>& bias,
                         int64_t len, DType in_dt, int32_t in_zp) {
  const DTypeTraits& t = traits(in_dt);
  const int64_t xmax = std::max(t.qmax - in_zp, in_zp - t.qmin);
  const auto rows = static_cast<int64_t>(weight.size()) / len;
  for (int64_t j = 0; j < rows; ++j) {
    int64_t bound = bias.empty() ? 0 : std::abs(int64_t{bias[static_cast<size_t>(j)]});
    for (int64_t k = 0; k < len; ++k)
      bound += std::abs(int64_t{weight[static_cast<size_t>(j * len + k)]}) * xmax;
    if (bound > INT32_MAX)
      throw Error(
          fmt::format("{}: its weights do not fit LMEM and a split reduction could saturate int32 "
                      "partial sums in output channel {} (bound {}): not bit-exact, refused",
                      op.name, j, bound));
  }
}

Instr accumulate(uint64_t acc, uint64_t part, Dims d) {
  ops::Eltwise x;
  x.dst = x.a = static_cast<int64_t>(acc), x.b = static_cast<int64_t>(part);
  x.op = static_cast<int64_t>(EltOp::Add), x.n = d.n, x.c = d.c, x.h = d.h, x.w = d.w;
  x.a_dtype = x.b_dtype = static_cast<int64_t>(DType::Int32), x.a_zp = x.b_zp = 0;
  x.a_m0 = x.b_m0 = kM0Identity, x.a_shift = x.b_shift = kShiftIdentity;
  identity_requant(x);
  return x.instr();
}

Instr requant_acc(const IOp& op, const ITensor& out_t, uint64_t acc, uint64_t out, uint64_t rq, Dims d) {
  ops::Requant r;
  r.dst = static_cast<int64_t>(out), r.src = static_cast<int64_t>(acc);
  r.n = d.n, r.c = d.c, r.h = d.h, r.w = d.w, r.in_dtype = static_cast<int64_t>(DType::Int32), r.in_zp = 0;
  set_requant(r, op, out_t, rq);
  return r.instr();
}

}  // namespace tpusim::compiler::be
