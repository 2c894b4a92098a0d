// Back end: a dense conv whose weights for one output channel per lane (ic·kh·kw bytes) do not fit
// LMEM runs with its input channels split into chunks, as codegen_ksplit.cpp does for matmul:
// chunk 0's conv2d writes the INT32 accumulator of the output band (bias added), later chunks'
// conv2d write INT32 partial sums that an eltwise add accumulates, and after the last chunk a
// requant instruction applies the op's requant tail before the band is stored. Bit-exact with the
// one-instruction conv when no partial sum can saturate (proven from the constants, else refused).
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "base/error.h"
#include "compiler/codegen.h"
#include "compiler/codegen_ksplit.h"

namespace tpusim::compiler::be {

namespace {

struct ConvSplit {
  int64_t oct = 1, rows = 1, icc = 1;
  int sets = 1;
  uint64_t acc_off = 0, out_off = 0, shared_bytes = 0;
  uint64_t in_off = 0, w_off = 0, t_off = 0, b_off = 0, rq_off = 0, set_bytes = 0;
};

int64_t in_rows(const WindowShape& s, int64_t rows) {
  return std::min(s.ih, (rows - 1) * s.sh + (s.kh - 1) * s.dh + 1);
}

std::optional<ConvSplit> layout(const WindowShape& s, const Arch& a, int64_t oct, int64_t rows, int64_t icc,
                                int sets) {
  ConvSplit p;
  p.oct = oct, p.rows = rows, p.icc = icc, p.sets = sets;
  SetLayout shared{4};  // local_bytes() are multiples of 4: int32 operands stay aligned
  p.acc_off = shared.place(local_bytes(a, DType::Int32, 1, oct, rows, s.ow));
  p.out_off = shared.place(local_bytes(a, s.out_dt, 1, oct, rows, s.ow));
  p.shared_bytes = shared.size();
  SetLayout set{4};
  p.in_off = set.place(local_bytes(a, s.in_dt, 1, icc, in_rows(s, rows), s.iw));
  p.w_off = set.place(local_bytes(a, s.w_dt, 1, oct, 1, icc * s.kh * s.kw));
  p.t_off = set.place(local_bytes(a, DType::Int32, 1, oct, rows, s.ow));
  if (s.bias) p.b_off = set.place(local_bytes(a, DType::Int32, 1, oct, 1, 1));
  if (s.rq_table) p.rq_off = set.place(local_bytes(a, DType::Int32, 1, oct, 1, 2));
  p.set_bytes = set.size();
  if (p.shared_bytes + p.set_bytes * uint64_t(sets) > a.lane_bytes) return std::nullopt;
  return p;
}

bool even(DType t, int64_t elem) { return !is_4bit(t) || elem % 2 == 0; }

bool aligned(const WindowShape& s, const ConvSplit& p) {
  const int64_t kk = s.kh * s.kw;
  for (const WindowTile& t : window_tiles(s, 1, p.oct, p.rows))
    for (int64_t i0 = 0; i0 < s.ic; i0 += p.icc)
      if (!even(s.in_dt, ((t.n0 * s.ic + i0) * s.ih + t.lo) * s.iw) ||
          !even(s.w_dt, (t.o0 * s.ic + i0) * kk) ||
          !even(s.out_dt, ((t.n0 * s.oc + t.o0) * s.oh + t.r0) * s.ow))
        return false;
  return true;
}

// One output channel per lane, one image; of the row-band heights oh, oh/2, ... the one whose
// longest fitting chunk gives the most MACs per conv2d (rows x chunk); two sets when they fit.
std::optional<ConvSplit> plan(const WindowShape& s, const Arch& a) {
  const int64_t oct = std::min<int64_t>(s.oc, a.lanes);
  std::optional<ConvSplit> best;
  for (int sets : {2, 1}) {
    for (int64_t rows = s.oh; rows >= 1; rows = rows > 1 ? ceil_div(rows, 2) : 0) {
      int64_t lo = 0, hi = std::min<int64_t>(s.ic, 65535);  // the largest chunk, by bisection
      while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (layout(s, a, oct, rows, mid, sets))
          lo = mid;
        else
          hi = mid - 1;
      }
      for (int64_t icc = lo; icc >= std::max<int64_t>(1, lo - 2); --icc) {
        std::optional<ConvSplit> p = layout(s, a, oct, rows, icc, sets);
        if (!p || !aligned(s, *p)) continue;
        if (!best || p->rows * p->icc > best->rows * best->icc) best = p;
        break;
      }
    }
    if (best) return best;
  }
  return std::nullopt;
}

}  // namespace

OpPlanInfo emit_conv_ksplit(Emitter& e, const IntGraph& g, const IOp& op, const WindowShape& s,
                            const DdrMap& ddr, const OpConsts& c, const Arch& a) {
  const IConv& cv = *op.as<IConv>();
  const int64_t kk = s.kh * s.kw;
  check_no_saturation(op, cv.weight, cv.bias, s.ic * kk, s.in_dt, cv.in_zp);
  const std::optional<ConvSplit> found = plan(s, a);
  if (!found)
    throw Error(fmt::format("{}: no tiling fits LMEM ({} bytes per lane), even with the input channels split",
                            op.name, a.lane_bytes));
  const ConvSplit& p = *found;
  struct Step {
    WindowTile t;
    int64_t i0, icc;
  };
  std::vector<Step> steps;
  for (const WindowTile& t : window_tiles(s, 1, p.oct, p.rows))
    for (int64_t i0 = 0; i0 < s.ic; i0 += p.icc) steps.push_back({t, i0, std::min(p.icc, s.ic - i0)});
  const ITensor& y = g.tensor(op.output);
  const uint64_t x_ddr = ddr.of(g, op.inputs[0]), y_ddr = ddr.of(g, op.output);
  auto make = [&](int64_t k, uint64_t set) {
    const Step& st = steps[static_cast<size_t>(k)];
    const WindowTile& t = st.t;
    const bool first = st.i0 == 0, last = st.i0 + st.icc >= s.ic;
    const uint64_t base = p.shared_bytes + set, part = base + p.t_off;
    TileCode tc;
    tc.loads.push_back(dma_load(a, s.in_dt, {t.nt, st.icc, t.hi - t.lo, s.iw}, x_ddr,
                                ((t.n0 * s.ic + st.i0) * s.ih + t.lo) * s.iw, {s.n, s.ic, s.ih, s.iw},
                                base + p.in_off));
    tc.const_loads.push_back(dma_load(a, s.w_dt, {1, t.oct, 1, st.icc * kk}, c.weight,
                                      (t.o0 * s.ic + st.i0) * kk, {1, s.oc, 1, s.ic * kk}, base + p.w_off));
    if (first && s.bias)
      tc.const_loads.push_back(
          dma_load(a, DType::Int32, {1, t.oct, 1, 1}, c.bias, t.o0, {1, s.oc, 1, 1}, base + p.b_off));
    if (last && s.rq_table)
      tc.const_loads.push_back(
          dma_load(a, DType::Int32, {1, t.oct, 1, 2}, c.rq, t.o0 * 2, {1, s.oc, 1, 2}, base + p.rq_off));
    ops::Conv2d x;
    x.dst = static_cast<int64_t>(first ? p.acc_off : part), x.src = static_cast<int64_t>(base + p.in_off);
    x.weight = static_cast<int64_t>(base + p.w_off);
    x.bias = first && s.bias ? static_cast<int64_t>(base + p.b_off) : 0;
    x.n = t.nt, x.ic = st.icc, x.ih = t.hi - t.lo, x.iw = s.iw, x.oc = t.oct, x.kh = s.kh, x.kw = s.kw;
    x.stride_h = s.sh, x.stride_w = s.sw, x.pad_t = t.pad_t, x.pad_b = t.pad_b, x.pad_l = s.pad_l;
    x.pad_r = s.pad_r, x.dil_h = s.dh, x.dil_w = s.dw, x.groups = 1;
    x.in_dtype = static_cast<int64_t>(s.in_dt), x.w_dtype = static_cast<int64_t>(s.w_dt);
    x.in_zp = cv.in_zp, x.has_bias = first && s.bias ? 1 : 0;
    identity_requant(x);
    tc.compute.push_back(x.instr());
    const Dims band{t.nt, t.oct, t.rows, s.ow};
    if (!first) tc.compute.push_back(accumulate(p.acc_off, part, band));
    if (last) {
      tc.compute.push_back(requant_acc(op, y, p.acc_off, p.out_off, base + p.rq_off, band));
      tc.stores.push_back(dma_store(a, s.out_dt, band, p.out_off, y_ddr,
                                    ((t.n0 * s.oc + t.o0) * s.oh + t.r0) * s.ow, {s.n, s.oc, s.oh, s.ow}));
    }
    return tc;
  };
  const auto n = static_cast<int64_t>(steps.size());
  schedule(e, n, p.sets, p.set_bytes, make);
  return {n, p.sets == 2 && n > 1, p.shared_bytes + p.set_bytes * uint64_t(p.sets)};
}

}  // namespace tpusim::compiler::be
