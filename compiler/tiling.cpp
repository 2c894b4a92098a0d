// Back end tiling: the largest tiles that fit LMEM, double-buffered when two buffer sets fit.
#include "compiler/tiling.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "base/error.h"

namespace tpusim::compiler::be {

uint64_t local_bytes(const Arch& a, DType dt, int64_t n, int64_t c, int64_t h, int64_t w) {
  const int64_t per_lane = n * ceil_div(c, a.lanes) * h * w;
  return align_up(packed_bytes(dt, static_cast<uint64_t>(per_lane)), 4);
}

namespace {

bool even_ok(DType dt, int64_t elem_offset) { return !is_4bit(dt) || elem_offset % 2 == 0; }

// Output channel group sizes to try, largest first: all, multiples of lanes, multiples of ocpg.
std::vector<int64_t> channel_candidates(int64_t oc, int64_t ocpg, int64_t lanes) {
  std::vector<int64_t> r{oc};
  for (int64_t v = oc - 1; v >= 1; --v)
    if (v % ocpg == 0 && v % lanes == 0) r.push_back(v);
  for (int64_t v = std::min(lanes - 1, oc - 1); v >= 1; --v)
    if (v % ocpg == 0) r.push_back(v);
  return r;
}

int64_t in_rows_for(const WindowShape& s, int64_t rows) {
  return std::min(s.ih, (rows - 1) * s.sh + (s.kh - 1) * s.dh + 1);
}

}  // namespace

std::vector<WindowTile> window_tiles(const WindowShape& s, int64_t nt, int64_t oct, int64_t rows) {
  std::vector<WindowTile> r;
  // Channel groups outermost, so consecutive tiles share their weights (codegen skips reloading
  // a set that already holds them).
  for (int64_t o0 = 0; o0 < s.oc; o0 += oct)
    for (int64_t n0 = 0; n0 < s.n; n0 += nt)
      for (int64_t r0 = 0; r0 < s.oh; r0 += rows) {
        WindowTile t{};
        t.n0 = n0, t.nt = std::min(nt, s.n - n0), t.o0 = o0, t.oct = std::min(oct, s.oc - o0);
        t.r0 = r0, t.rows = std::min(rows, s.oh - r0);
        t.i0 = s.grouped ? o0 / s.ocpg * s.icpg : 0;
        t.ict = s.grouped ? t.oct / s.ocpg * s.icpg : s.ic;
        const int64_t start = t.r0 * s.sh - s.pad_t;
        const int64_t end = (t.r0 + t.rows - 1) * s.sh - s.pad_t + (s.kh - 1) * s.dh + 1;
        t.lo = std::max<int64_t>(0, start), t.hi = std::min(s.ih, end);
        t.pad_t = t.lo - start, t.pad_b = end - t.hi;
        r.push_back(t);
      }
  return r;
}

namespace {

uint64_t layout(const WindowShape& s, const Arch& a, int64_t nt, int64_t oct, int64_t rows, uint64_t align,
                WindowPlan* p) {
  const int64_t ict = s.grouped ? oct / s.ocpg * s.icpg : s.ic;
  const int64_t irows = in_rows_for(s, rows);
  WindowPlan scratch;
  WindowPlan& q = p ? *p : scratch;
  SetLayout l{align};
  for (int i = 0; i < s.n_inputs; ++i)
    q.in_off[i] = l.place(local_bytes(a, i == 0 ? s.in_dt : s.in_dt2, nt, ict, irows, s.iw));
  q.consts_lo = align_up(l.at, align);
  if (s.weights) q.w_off = l.place(local_bytes(a, s.w_dt, 1, oct, 1, s.icpg * s.kh * s.kw));
  if (s.bias) q.b_off = l.place(local_bytes(a, DType::Int32, 1, oct, 1, 1));
  if (s.rq_table) q.rq_off = l.place(local_bytes(a, DType::Int32, 1, oct, 1, 2));
  q.consts_hi = std::max(q.consts_lo, l.at);
  if (s.lut_entries) q.lut_off = l.place(local_bytes(a, s.out_dt, 1, 1, 1, s.lut_entries));
  q.out_off = l.place(local_bytes(a, s.out_dt, nt, oct, rows, s.ow));
  return l.size();
}

// Bank-aligned when `sets` such sets fit a lane, else packed (4-byte aligned).
uint64_t best_align(const Arch& a, int sets, const std::function<uint64_t(uint64_t)>& size_with) {
  const uint64_t bank = std::max<uint64_t>(a.lane_bytes / a.banks_per_lane, 4);
  return size_with(bank) * static_cast<uint64_t>(sets) <= a.lane_bytes ? bank : 4;
}

bool aligned(const WindowShape& s, int64_t nt, int64_t oct, int64_t rows) {
  if (!is_4bit(s.in_dt) && !(s.n_inputs > 1 && is_4bit(s.in_dt2)) && !is_4bit(s.out_dt) &&
      !(s.weights && is_4bit(s.w_dt)))
    return true;
  for (const WindowTile& t : window_tiles(s, nt, oct, rows)) {
    for (int i = 0; i < s.n_inputs; ++i) {
      const int64_t first = s.broadcast[i] ? t.n0 * s.ic + t.i0 : ((t.n0 * s.ic + t.i0) * s.ih + t.lo) * s.iw;
      if (!even_ok(i == 0 ? s.in_dt : s.in_dt2, first)) return false;
    }
    if (!even_ok(s.out_dt, ((t.n0 * s.oc + t.o0) * s.oh + t.r0) * s.ow)) return false;
    if (s.weights && !even_ok(s.w_dt, t.o0 * s.icpg * s.kh * s.kw)) return false;
  }
  return true;
}

}  // namespace

// Estimated cycles of a double-buffered tiling: its DDR bytes at the DDR bandwidth (the MACs are
// the same for every tiling) plus a start-up per tile. Tiles run channel group by channel group;
// a group's weights are loaded by its first `sets` tiles (later ones find them in their set), and
// every tile loads its input band, halo included.
static double tiling_cost(const WindowShape& s, const Arch& a, int64_t nt, int64_t oct, int64_t rows,
                          int sets) {
  const int64_t groups = ceil_div(s.oc, oct), bands = ceil_div(s.oh, rows), batches = ceil_div(s.n, nt);
  const int64_t per_group = batches * bands;
  const int64_t ict = s.grouped ? oct / s.ocpg * s.icpg : s.ic;
  double w = 0;
  if (s.weights) w += double(packed_bytes(s.w_dt, uint64_t(oct * s.icpg * s.kh * s.kw)));
  if (s.bias) w += 4.0 * double(oct);
  if (s.rq_table) w += 8.0 * double(oct);
  const double weights = double(groups) * double(std::min<int64_t>(per_group, sets)) * w;
  const double in_band = double(packed_bytes(s.in_dt, uint64_t(nt * ict * in_rows_for(s, rows) * s.iw)));
  const double inputs = double(groups * per_group) * in_band * s.n_inputs;
  const double out = double(packed_bytes(s.out_dt, uint64_t(s.n * s.oc * s.oh * s.ow)));
  return (weights + inputs + out) / a.ddr_bytes_per_cycle +
         double(groups * per_group) * (a.gdma_startup + a.tiu_startup + a.ddr_latency);
}

// The plan of tiles [nt, oct, rows] with `sets` buffer sets, bank-aligned when that still fits.
static WindowPlan window_plan(const WindowShape& s, const Arch& a, int64_t nt, int64_t oct, int64_t rows,
                              int sets) {
  WindowPlan p;
  p.nt = nt, p.oct = oct, p.rows = rows;
  const uint64_t align =
      best_align(a, sets, [&](uint64_t al) { return layout(s, a, nt, oct, rows, al, nullptr); });
  p.set_bytes = layout(s, a, nt, oct, rows, align, &p);
  p.tiles = window_tiles(s, nt, oct, rows);
  p.double_buffer = sets == 2 && p.tiles.size() > 1;
  return p;
}

std::optional<WindowPlan> try_plan_window(const WindowShape& s, const Arch& a) {
  const std::vector<int64_t> ocs = channel_candidates(s.oc, s.grouped ? s.ocpg : 1, a.lanes);
  // Batch tiles: all of it, then halves down to 1 (a transformer's elementwise op has its tokens
  // as the batch: [tokens, features, 1, 1], codegen_ops.cpp).
  std::vector<int64_t> nts;
  for (int64_t nt = std::min(s.n, kMaxDim); nt > 1; nt = (nt + 1) / 2) nts.push_back(nt);
  nts.push_back(1);
  auto fits = [&](int64_t nt, int64_t oct, int64_t rows, int sets) {
    return layout(s, a, nt, oct, rows, 4, nullptr) * uint64_t(sets) <= a.lane_bytes &&
           aligned(s, nt, oct, rows);
  };
  // One buffer set when the whole op fits it (one tile). Else two sets, double-buffered: for
  // each batch and channel-group size the most rows that fit, and of those the tiling of least
  // estimated cost (tiling_cost: weight reloads, input halos, tile count).
  if (fits(s.n, s.oc, s.oh, 1)) return window_plan(s, a, s.n, s.oc, s.oh, 1);
  double best = 0;
  int64_t bn = 0, bo = 0, br = 0;
  for (int64_t nt : nts)
    for (int64_t oct : ocs)
      for (int64_t rows = s.oh; rows >= 1; --rows)
        if (fits(nt, oct, rows, 2)) {
          const double c = tiling_cost(s, a, nt, oct, rows, 2);
          if (br == 0 || c < best) best = c, bn = nt, bo = oct, br = rows;
          break;  // fewer rows for this channel group only cost more
        }
  if (br) return window_plan(s, a, bn, bo, br, 2);
  // Fall back to the single-buffered plan (two sets never fit).
  for (int64_t nt : nts)
    for (int64_t oct : ocs)
      for (int64_t rows = s.oh; rows >= 1; --rows)
        if (fits(nt, oct, rows, 1)) return window_plan(s, a, nt, oct, rows, 1);
  return std::nullopt;
}

std::optional<MatmulPlan> try_plan_matmul(const MatmulShape& s, const Arch& a) {
  if (s.k > kMaxMatmulK) return std::nullopt;
  auto lay = [&](int64_t mt, int64_t jt, uint64_t align, MatmulPlan* p) {
    MatmulPlan scratch;
    MatmulPlan& q = p ? *p : scratch;
    SetLayout l{align};
    q.in_off = l.place(local_bytes(a, s.in_dt, mt, s.k, 1, 1));
    q.w_off = q.consts_lo = l.place(local_bytes(a, s.w_dt, 1, jt, 1, s.k));
    if (s.bias) q.b_off = l.place(local_bytes(a, DType::Int32, 1, jt, 1, 1));
    if (s.rq_table) q.rq_off = l.place(local_bytes(a, DType::Int32, 1, jt, 1, 2));
    q.consts_hi = l.at;
    q.out_off = l.place(local_bytes(a, s.out_dt, mt, jt, 1, 1));
    return l.size();
  };
  auto ok = [&](int64_t mt, int64_t jt) {
    for (int64_t m0 = 0; m0 < s.m; m0 += mt)
      for (int64_t j0 = 0; j0 < s.n; j0 += jt)
        if (!even_ok(s.in_dt, m0 * s.k) || !even_ok(s.out_dt, m0 * s.n + j0) || !even_ok(s.w_dt, j0 * s.k))
          return false;
    return true;
  };
  const std::vector<int64_t> jts = channel_candidates(s.n, 1, a.lanes);
  for (int sets : {2, 1})
    for (int64_t jt : jts)
      for (int64_t mt = s.m; mt >= 1; --mt) {
        if (lay(mt, jt, 4, nullptr) * sets > a.lane_bytes || !ok(mt, jt)) continue;
        MatmulPlan p;
        p.mt = mt, p.jt = jt;
        p.set_bytes =
            lay(mt, jt, best_align(a, sets, [&](uint64_t al) { return lay(mt, jt, al, nullptr); }), &p);
        // Loop order by DDR bytes: rows outer reloads the weights once per row block, columns
        // outer reloads the input once per column block (a tile keeps the block its buffer set
        // already holds: codegen).
        const double w_bytes = double(packed_bytes(s.w_dt, uint64_t(s.n * s.k))) + (s.bias ? 4.0 * s.n : 0) +
                               (s.rq_table ? 8.0 * s.n : 0);
        const double in_bytes = double(packed_bytes(s.in_dt, uint64_t(s.m * s.k)));
        const int64_t row_blocks = ceil_div(s.m, mt), col_blocks = ceil_div(s.n, jt);
        const bool rows_outer =
            row_blocks == 1 || col_blocks == 1 ||
            double(row_blocks) * w_bytes + in_bytes <= double(col_blocks) * in_bytes + w_bytes;
        if (rows_outer) {
          for (int64_t m0 = 0; m0 < s.m; m0 += mt)
            for (int64_t j0 = 0; j0 < s.n; j0 += jt)
              p.tiles.push_back({m0, std::min(mt, s.m - m0), j0, std::min(jt, s.n - j0)});
        } else {
          for (int64_t j0 = 0; j0 < s.n; j0 += jt)
            for (int64_t m0 = 0; m0 < s.m; m0 += mt)
              p.tiles.push_back({m0, std::min(mt, s.m - m0), j0, std::min(jt, s.n - j0)});
        }
        p.double_buffer = sets == 2 && p.tiles.size() > 1;
        return p;
      }
  return std::nullopt;
}

}  // namespace tpusim::compiler::be
