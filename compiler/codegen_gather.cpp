// Back end code generation of IGather (a channel shuffle or slice): GDMA copies only.
#include <fmt/format.h>

#include "base/error.h"
#include "compiler/codegen.h"

namespace tpusim::compiler::be {

namespace {

// ---- gather -------------------------------------------------------------------------------------
// The tensors are viewed as [N, C, inner] (inner = H*W, 1 for 2-D). The channel list is cut into
// runs, each copied with strided DMAs through LMEM: a dma.load whose source channel stride is
// si*inner (0 for a repeated channel) and a dma.store whose destination channel stride is so*inner.
//
// 4-bit elements: a DMA's addresses are byte addresses, so the first element of every load and
// store must sit at an even element offset in DDR (strides are in elements and may be odd; inside a
// transfer elements move nibble by nibble). With inner even every row starts even and tiles cut
// inner at even offsets. With inner odd (e.g. 7x7, or 2-D tensors) rows start on either nibble, so
// the LMEM tile holds one element per byte (LMEM stride 2) behind a one-byte gap per row:
//  - a load whose first row starts odd starts one element earlier; every row's extra element
//    lands in its gap;
//  - a tile whose first output row starts odd is one row, stored one element earlier together
//    with that element's correct value (the last element of the previous output row, loaded into
//    the gap after the row itself).

// Output channels co0 + k*so are input channels ci0 + k*si, k < len (so >= 1, si >= 0).
struct GatherRun {
  int64_t co0, so, ci0, si, len;
};

// Greedy: the first channel not yet covered starts the longest run over the channels not yet
// covered (the smallest output step on ties).
std::vector<GatherRun> gather_runs(const std::vector<int64_t>& ch) {
  const auto cout = static_cast<int64_t>(ch.size());
  std::vector<bool> done(ch.size(), false);
  auto at = [](int64_t i) { return static_cast<size_t>(i); };
  std::vector<GatherRun> runs;
  for (int64_t c0 = 0; c0 < cout; ++c0) {
    if (done[at(c0)]) continue;
    GatherRun best{c0, 1, ch[at(c0)], 0, 1};
    for (int64_t so = 1; c0 + so * best.len < cout; ++so) {  // else no longer run is possible
      if (done[at(c0 + so)]) continue;
      const int64_t si = ch[at(c0 + so)] - ch[at(c0)];
      if (si < 0) continue;
      int64_t len = 2;
      while (c0 + len * so < cout && !done[at(c0 + len * so)] &&
             ch[at(c0 + len * so)] == ch[at(c0)] + len * si)
        ++len;
      if (len > best.len) best = {c0, so, ch[at(c0)], si, len};
    }
    for (int64_t k = 0; k < best.len; ++k) done[at(c0 + k * best.so)] = true;
    runs.push_back(best);
  }
  return runs;
}

constexpr int64_t kMaxDmaDim = 65535;  // the 16-bit shape fields of the DMA instructions

struct GatherGeom {
  DType dt;
  int64_t n, cin, cout, inner;
  uint64_t src, dst;  // DDR addresses of input and output
  // Byte address of element `elem` (even for 4-bit types: checked).
  int64_t addr(uint64_t base, int64_t elem, const char* what) const {
    if (is_4bit(dt) && elem % 2)
      throw Error(fmt::format("gather: internal error, {} at odd 4-bit element offset {}", what, elem));
    return static_cast<int64_t>(base + static_cast<uint64_t>(elem) * bits(dt) / 8);
  }
};

// Compact LMEM tiles [nt, kt, 1, it]; inner is even for 4-bit types, and so is every it.
void gather_run_compact(Emitter& e, const GatherGeom& G, const GatherRun& r, const Arch& a, const IOp& op,
                        OpPlanInfo& info) {
  const int64_t unit = is_4bit(G.dt) ? 2 : 1;
  int64_t nt = G.n, kt = r.len, it = std::min(G.inner, kMaxDmaDim + 1 - unit);
  auto fits = [&] {
    return nt <= kMaxDmaDim && kt <= kMaxDmaDim && local_bytes(a, G.dt, nt, kt, 1, it) <= a.lane_bytes;
  };
  while (!fits()) {
    if (kt > 1)
      kt = kt > a.lanes ? (ceil_div(kt, a.lanes) - 1) * a.lanes : kt - 1;
    else if (nt > 1)
      nt = ceil_div(nt, 2);
    else if (it > unit)
      it = ceil_div(it / unit, 2) * unit;
    else
      throw Error(fmt::format("{}: gather does not fit LMEM", op.name));
  }
  const DmaStrides in_s{G.cin * G.inner, r.si * G.inner, G.inner, 1};
  const DmaStrides out_s{G.cout * G.inner, r.so * G.inner, G.inner, 1};
  for (int64_t n0 = 0; n0 < G.n; n0 += nt)
    for (int64_t k0 = 0; k0 < r.len; k0 += kt)
      for (int64_t i0 = 0; i0 < G.inner; i0 += it) {
        const Dims d{std::min(nt, G.n - n0), std::min(kt, r.len - k0), 1, std::min(it, G.inner - i0)};
        const DmaStrides local{ceil_div(d.c, a.lanes) * d.w, d.w, d.w, 1};
        const int64_t from = (n0 * G.cin + r.ci0 + k0 * r.si) * G.inner + i0;
        const int64_t to = (n0 * G.cout + r.co0 + k0 * r.so) * G.inner + i0;
        e.gdma(strided_load(G.dt, d, G.addr(G.src, from, "load"), in_s, 0, local));
        e.gdma(strided_store(G.dt, d, 0, local, G.addr(G.dst, to, "store"), out_s));
        ++info.tiles;
        info.lmem_bytes = std::max(info.lmem_bytes, local_bytes(a, G.dt, d.n, d.c, 1, d.w));
      }
}

// 4-bit, inner odd: one batch per tile, whole rows, one element per LMEM byte. Lane layout: byte 0
// spare, then per row (in lane k % lanes, slot k / lanes) a gap byte and inner data bytes.
void gather_run_nibbles(Emitter& e, const GatherGeom& G, const GatherRun& r, const std::vector<int64_t>& ch,
                        const Arch& a, const IOp& op, OpPlanInfo& info) {
  const int64_t row_bytes = G.inner + 1;
  const int64_t slots = (static_cast<int64_t>(a.lane_bytes) - 1) / row_bytes;
  if (slots < 1 || G.inner + 1 > kMaxDmaDim)
    throw Error(fmt::format("{}: gather of 4-bit rows of {} elements does not fit LMEM", op.name, G.inner));
  const int64_t kt_max = std::min(slots * a.lanes, kMaxDmaDim);
  const DmaStrides in_s{G.cin * G.inner, r.si * G.inner, G.inner, 1};
  const DmaStrides out_s{G.cout * G.inner, r.so * G.inner, G.inner, 1};
  for (int64_t n = 0; n < G.n; ++n)
    for (int64_t k0 = 0; k0 < r.len;) {
      const int64_t row = n * G.cout + r.co0 + k0 * r.so;  // flat output row
      const bool odd_out = (row * G.inner) % 2 != 0;
      const int64_t kt = odd_out ? 1 : std::min(kt_max, r.len - k0);
      const DmaStrides local{ceil_div(kt, a.lanes) * 2 * row_bytes, 2 * row_bytes, 2 * row_bytes, 2};
      const int64_t from = (n * G.cin + r.ci0 + k0 * r.si) * G.inner;
      if (from % 2 == 0)
        e.gdma(strided_load(G.dt, {1, kt, 1, G.inner}, G.addr(G.src, from, "load"), in_s, 2, local));
      else  // one element early: each row's extra element lands in its gap
        e.gdma(strided_load(G.dt, {1, kt, 1, G.inner + 1}, G.addr(G.src, from - 1, "load"), in_s, 1, local));
      const int64_t to = row * G.inner;
      if (odd_out) {
        // The element before the row: the last one of output row row - 1, into the row's gap.
        const int64_t pn = (row - 1) / G.cout, pc = (row - 1) % G.cout;
        const int64_t prev = (pn * G.cin + ch[static_cast<size_t>(pc)]) * G.inner + G.inner - 1;
        const DmaStrides one{2, 2, 2, 2};
        if (prev % 2 == 0)
          e.gdma(strided_load(G.dt, {1, 1, 1, 1}, G.addr(G.src, prev, "load"), in_s, 1, one));
        else  // with the element before it, which lands in the spare byte 0
          e.gdma(strided_load(G.dt, {1, 1, 1, 2}, G.addr(G.src, prev - 1, "load"), in_s, 0, one));
        e.gdma(strided_store(G.dt, {1, 1, 1, G.inner + 1}, 1, local, G.addr(G.dst, to - 1, "store"), out_s));
      } else {
        e.gdma(strided_store(G.dt, {1, kt, 1, G.inner}, 2, local, G.addr(G.dst, to, "store"), out_s));
      }
      ++info.tiles;
      info.lmem_bytes = std::max(info.lmem_bytes,
                                 align_up(static_cast<uint64_t>(1 + ceil_div(kt, a.lanes) * row_bytes), 4));
      k0 += kt;
    }
}

}  // namespace

OpPlanInfo emit_gather(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a) {
  const IGather& gt = *op.as<IGather>();
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  if (x.shape.size() < 2 || y.shape.size() != x.shape.size() || y.dtype != x.dtype ||
      y.shape[1] != static_cast<int64_t>(gt.channels.size()))
    throw Error(fmt::format("{}: gather from {} {} to {} {} is malformed", op.name, name(x.dtype),
                            shape_str(x.shape), name(y.dtype), shape_str(y.shape)));
  GatherGeom G{y.dtype,
               x.shape[0],
               x.shape[1],
               y.shape[1],
               num_elements(Shape(x.shape.begin() + 2, x.shape.end())),
               ddr.of(g, op.inputs[0]),
               ddr.of(g, op.output)};
  for (int64_t c : gt.channels)
    if (c < 0 || c >= G.cin)
      throw Error(fmt::format("{}: gather channel {} is outside [0, {})", op.name, c, G.cin));
  OpPlanInfo info;
  if (G.n == 0 || G.cout == 0 || G.inner == 0) return info;
  for (const GatherRun& r : gather_runs(gt.channels)) {
    if (is_4bit(G.dt) && G.inner % 2)
      gather_run_nibbles(e, G, r, gt.channels, a, op, info);
    else
      gather_run_compact(e, G, r, a, op, info);
  }
  return info;
}

}  // namespace tpusim::compiler::be
