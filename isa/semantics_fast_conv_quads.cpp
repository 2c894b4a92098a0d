// try_conv2d_quads (semantics_fast_util.h): conv2d as a direct convolution on every SIMD target
// (simd::conv_quads_u8s8: AVX-512 VNNI, or int16 multiply-adds), output positions along the
// vector. Why: the gemm paths reduce each output in a vector and sum it horizontally, and re-lay
// the weights every instruction; here the accumulators are already one output channel's row, and
// the weights come packed from a cache (conv_weight_cache.h).
//
// Positions: the padded input is split into stride phases (plane (py, px) holds the padded
// elements (y, x) with y % sh = py, x % sw = px, at (y / sh, x / sw), rows pw2 = ceil(pw / sw)
// wide), so every tap reads its phase plane at a constant offset from output q = oy * pw2 + ox:
// the positions form one flat, contiguous range (the columns ox >= ow are computed and dropped).
// Inputs are offset bytes x + off as in the gemm path; padding and unused quad bytes hold in_zp +
// off (unused bytes meet zero weights), and the offset is removed per channel by -(in_zp + off) *
// sum(w).
#include <algorithm>
#include <vector>

#include "isa/conv_weight_cache.h"
#include "isa/semantics_fast_util.h"
#include "isa/simd_conv_quads.h"

namespace tpusim::sem {

namespace {

// The quad input of one (image, group) and each step's byte offset into it.
struct QuadInput {
  std::vector<uint8_t> x;
  std::vector<size_t> koff;
};

struct QuadShape {
  ConvShape g;
  int64_t pad_t, pad_l, ih, iw;
  int64_t ph2, pw2, cells;  // phase plane rows, row width, cells allocated per phase plane
  int64_t positions;        // (oh - 1) * pw2 + ow
};

int64_t tap_cell(const QuadShape& s, int64_t ky, int64_t kx) {
  return (ky * s.g.dh / s.g.sh) * s.pw2 + kx * s.g.dw / s.g.sw;
}
int64_t tap_phase(const QuadShape& s, int64_t ky, int64_t kx) {
  return (ky * s.g.dh % s.g.sh) * s.g.sw + kx * s.g.dw % s.g.sw;
}

// used[phase]: some tap reads the phase plane (a 1x1 stride-2 conv reads one of four).
std::vector<char> used_phases(const QuadShape& s) {
  std::vector<char> used(static_cast<size_t>(s.g.sh * s.g.sw), 0);
  for (int64_t ky = 0; ky < s.g.kh; ++ky)
    for (int64_t kx = 0; kx < s.g.kw; ++kx) used[static_cast<size_t>(tap_phase(s, ky, kx))] = 1;
  return used;
}

// Writes the group's input channels, as offset bytes, into phase-plane cells: byte *at(ci, phase,
// cell), the next cell's `step` bytes further. Only phases some tap reads are written.
template <class At>
void scatter_input(const QuadShape& s, const Tensor& src, const MemView& m, uint64_t n, int64_t c0,
                   int64_t step, At at) {
  const std::vector<char> used = used_phases(s);
  thread_local std::vector<uint8_t> row;
  row.resize(static_cast<size_t>(s.iw));
  for (int64_t ci = 0; ci < s.g.icg; ++ci) {
    const Plane p = plane(src, m, n, static_cast<uint64_t>(c0 + ci));
    for (int64_t y = 0; y < s.ih; ++y) {
      const int64_t yy = y + s.pad_t, py = yy % s.g.sh, cy = (yy / s.g.sh) * s.pw2;
      bool any = false;
      for (int64_t px = 0; px < s.g.sw; ++px) any |= used[static_cast<size_t>(py * s.g.sw + px)] != 0;
      if (!any) continue;
      unpack_row_u8(p.base, p.index + static_cast<uint64_t>(y * s.iw), src.dtype, row.data(),
                    static_cast<uint64_t>(s.iw));
      // The columns of each used x phase px: x = x0, x0 + sw, ... into consecutive cells.
      for (int64_t px = 0; px < s.g.sw; ++px) {
        if (!used[static_cast<size_t>(py * s.g.sw + px)]) continue;
        const int64_t x0 = ((px - s.pad_l) % s.g.sw + s.g.sw) % s.g.sw;
        if (x0 >= s.iw) continue;
        uint8_t* out = at(ci, py * s.g.sw + px, cy + (x0 + s.pad_l) / s.g.sw);
        for (int64_t x = x0, k = 0; x < s.iw; x += s.g.sw, ++k) out[k * step] = row[static_cast<size_t>(x)];
      }
    }
  }
}

// ChannelQuads: x[((phase * cqs + ci / 4) * cells + cell) * 4 + ci % 4]; step t * cqs + cq. Four
// channels' rows at a time, interleaved byte by byte (vectorised: the cells are written whole).
void build_channel_quads(const QuadShape& s, const Tensor& src, const MemView& m, uint64_t n, int64_t c0,
                         uint8_t pad, QuadInput& q) {
  const int64_t cqs = (s.g.icg + 3) / 4, phases = s.g.sh * s.g.sw, iw = s.iw, sw = s.g.sw;
  const std::vector<char> used = used_phases(s);
  q.x.resize(static_cast<size_t>(phases * cqs * s.cells * 4));
  for (int64_t ph = 0; ph < phases; ++ph)  // only the planes some tap reads
    if (used[static_cast<size_t>(ph)])
      std::fill_n(q.x.begin() + ph * cqs * s.cells * 4, cqs * s.cells * 4, pad);
  // Per padded row: does any used phase start in it (rows of unused phases are skipped).
  std::vector<char> row_used(static_cast<size_t>(s.g.sh), 0);
  for (int64_t py = 0; py < s.g.sh; ++py)
    for (int64_t px = 0; px < sw; ++px)
      row_used[static_cast<size_t>(py)] |= used[static_cast<size_t>(py * sw + px)];
  // The four rows of a quad: uint8 codes straight from LMEM, other types converted into `rows`, the
  // channels past icg a row of padding.
  thread_local std::vector<uint8_t> rows;
  rows.resize(static_cast<size_t>(5 * iw));
  std::fill_n(rows.begin() + 4 * iw, iw, pad);
  for (int64_t cq = 0; cq < cqs; ++cq) {
    Plane planes[4] = {};
    for (int64_t j = 0; j < 4 && cq * 4 + j < s.g.icg; ++j)
      planes[j] = plane(src, m, n, static_cast<uint64_t>(c0 + cq * 4 + j));
    for (int64_t y = 0; y < s.ih; ++y) {
      const int64_t yy = y + s.pad_t, py = yy % s.g.sh, cy = (yy / s.g.sh) * s.pw2;
      if (!row_used[static_cast<size_t>(py)]) continue;
      const uint8_t* r[4];
      for (int64_t j = 0; j < 4; ++j) {
        if (cq * 4 + j >= s.g.icg) {
          r[j] = rows.data() + 4 * iw;
          continue;
        }
        const uint64_t at = planes[j].index + static_cast<uint64_t>(y * iw);
        if (src.dtype == DType::UInt8) {
          r[j] = planes[j].base + at;
          continue;
        }
        uint8_t* buf = rows.data() + j * iw;
        unpack_row_u8(planes[j].base, at, src.dtype, buf, static_cast<uint64_t>(iw));
        r[j] = buf;
      }
      const uint8_t *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
      for (int64_t px = 0; px < sw; ++px) {
        if (!used[static_cast<size_t>(py * sw + px)]) continue;
        const int64_t x0 = ((px - s.pad_l) % sw + sw) % sw;
        if (x0 >= iw) continue;
        uint8_t* out =
            q.x.data() + ((py * sw + px) * cqs + cq) * s.cells * 4 + (cy + (x0 + s.pad_l) / sw) * 4;
        const int64_t count = (iw - x0 + sw - 1) / sw;
        if (sw == 1) {
          for (int64_t k = 0; k < count; ++k)
            out[4 * k] = r0[k], out[4 * k + 1] = r1[k], out[4 * k + 2] = r2[k], out[4 * k + 3] = r3[k];
        } else if (sw == 2) {  // a constant stride, which the vectoriser handles
          const uint8_t *a = r0 + x0, *b = r1 + x0, *c = r2 + x0, *d = r3 + x0;
          for (int64_t k = 0; k < count; ++k)
            out[4 * k] = a[2 * k], out[4 * k + 1] = b[2 * k], out[4 * k + 2] = c[2 * k],
                    out[4 * k + 3] = d[2 * k];
        } else {
          for (int64_t k = 0, x = x0; k < count; ++k, x += sw)
            out[4 * k] = r0[x], out[4 * k + 1] = r1[x], out[4 * k + 2] = r2[x], out[4 * k + 3] = r3[x];
        }
      }
    }
  }
  q.koff.clear();
  for (int64_t ky = 0; ky < s.g.kh; ++ky)
    for (int64_t kx = 0; kx < s.g.kw; ++kx)
      for (int64_t cq = 0; cq < cqs; ++cq)
        q.koff.push_back(
            static_cast<size_t>(((tap_phase(s, ky, kx) * cqs + cq) * s.cells + tap_cell(s, ky, kx)) * 4));
}

// RowQuads (sw = dw = 1, icg 1 or 2): channels-last bytes nhwc[py][cell * icg + ci], then the quad
// of cell c is its 4 bytes from c * icg on (a sliding window: entries e = kx * icg + ci of a kernel
// row are contiguous); step ky * rs + r starts 4r / icg cells after the row's first tap.
void build_row_quads(const QuadShape& s, const Tensor& src, const MemView& m, uint64_t n, int64_t c0,
                     uint8_t pad, QuadInput& q) {
  const int64_t icg = s.g.icg, rs = (s.g.kw * icg + 3) / 4, span = s.cells * icg + 4;
  thread_local std::vector<uint8_t> nhwc;
  nhwc.assign(static_cast<size_t>(s.g.sh * span), pad);
  uint8_t* c = nhwc.data();
  scatter_input(s, src, m, n, c0, icg,
                [&](int64_t ci, int64_t py, int64_t cell) { return c + py * span + cell * icg + ci; });
  q.x.resize(static_cast<size_t>(s.g.sh * s.cells * 4));
  for (int64_t py = 0; py < s.g.sh; ++py)
    for (int64_t cell = 0; cell < s.cells; ++cell)
      std::copy_n(c + py * span + cell * icg, 4, q.x.data() + (py * s.cells + cell) * 4);
  q.koff.clear();
  for (int64_t ky = 0; ky < s.g.kh; ++ky)
    for (int64_t r = 0; r < rs; ++r)
      q.koff.push_back(
          static_cast<size_t>((tap_phase(s, ky, 0) * s.cells + tap_cell(s, ky, 0) + 4 * r / icg) * 4));
}

}  // namespace

bool try_conv2d_quads(const Instr& in, const MemView& m, ExecCounters& counters) {
  if (!simd::conv_quads_simd()) return false;
  const auto c = ops::Conv2d::from(in);
  const int64_t icg = c.ic / c.groups, ocg = c.oc / c.groups;
  if (icg * c.kh * c.kw > kMaxExactTerms) return false;
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &weight = ops.get("weight"), &dst = ops.get("dst");
  QuadShape s{ConvShape{icg, c.kh, c.kw, c.ih + c.pad_t + c.pad_b, c.iw + c.pad_l + c.pad_r, int64_t(dst.h),
                        int64_t(dst.w), c.stride_h, c.stride_w, c.dil_h, c.dil_w},
              c.pad_t,
              c.pad_l,
              c.ih,
              c.iw,
              0,
              0,
              0,
              0};
  s.ph2 = (s.g.ph + s.g.sh - 1) / s.g.sh, s.pw2 = (s.g.pw + s.g.sw - 1) / s.g.sw;
  s.positions = (s.g.oh - 1) * s.pw2 + s.g.ow;
  const int64_t vq = (s.positions + 15) / 16 * 16, outs = s.g.oh * s.g.ow;
  if (2 * outs < vq) return false;  // mostly dropped lanes: the gemm paths do better
  const bool rows = (icg == 1 || icg == 2) && s.g.sw == 1 && s.g.dw == 1;
  const ConvWeightKey key{
      weight.addr, weight.dtype, c.oc, c.groups,
      icg,         c.kh,         c.kw, rows ? QuadLayout::RowQuads : QuadLayout::ChannelQuads};
  int64_t reach = 0;  // the farthest cell a step starts at
  for (int64_t ky = 0; ky < c.kh; ++ky) reach = std::max(reach, tap_cell(s, ky, c.kw - 1) + (rows ? 1 : 0));
  s.cells = std::max(s.ph2 * s.pw2, reach + vq);
  const Requantizer rq = make_requantizer(requant_fields(c), ops, m, dst.c, "conv2d");
  const std::vector<int32_t> bias = read_bias(ops, m, dst.c);
  const PackedConvWeights& pw = packed_conv_weights(key, weight, m);
  const auto pad_code = static_cast<int32_t>(c.in_zp - traits(src.dtype).qmin);
  thread_local QuadInput q;
  thread_local std::vector<int32_t> acc;
  acc.resize(static_cast<size_t>(pw.ocg4 * vq));
  for (uint64_t n = 0; n < dst.n; ++n)
    for (int64_t grp = 0; grp < c.groups; ++grp) {
      if (rows)
        build_row_quads(s, src, m, n, grp * icg, static_cast<uint8_t>(pad_code), q);
      else
        build_channel_quads(s, src, m, n, grp * icg, static_cast<uint8_t>(pad_code), q);
      simd::conv_quads_u8s8(simd::QuadConv{q.x.data(), q.koff.data(), q.koff.size(),
                                           pw.w.data() + grp * (pw.ocg4 / 4) * pw.k4 * 16,
                                           static_cast<size_t>(pw.ocg4), static_cast<size_t>(s.positions),
                                           acc.data(), static_cast<size_t>(vq)});
      for (int64_t og = 0; og < ocg; ++og) {
        const int64_t o = grp * ocg + og;
        int32_t* row = acc.data() + og * vq;
        for (int64_t oy = 1; oy < s.g.oh && s.pw2 != s.g.ow; ++oy)  // q = oy * pw2 + ox -> oy * ow + ox
          std::copy(row + oy * s.pw2, row + oy * s.pw2 + s.g.ow, row + oy * s.g.ow);
        const Plane out = plane(dst, m, n, static_cast<uint64_t>(o));
        store_row(out.base, out.index, dst.dtype, row, static_cast<uint64_t>(outs),
                  offset_tail(rq, bias, o, pad_code, pw.wsum[static_cast<size_t>(o)]), counters);
      }
    }
  counters.macs += dst.n * dst.c * dst.h * dst.w * static_cast<uint64_t>(icg * c.kh * c.kw);
  return true;
}

}  // namespace tpusim::sem
