// The fast twin of pool (eltwise and lut: semantics_fast_eltwise_lut.cpp), max and average: each
// (n, c) plane is unpacked once into centred int16 values (x - in_zp, SIMD widening for 8-bit
// codes) and the windows are reduced from there, with the output tail inlined
// (semantics_fast_util.h); max pools in int16 with padded rows (max_pool_plane). Same arithmetic as
// exec_pool in semantics_tiu.cpp: windows clipped to the input, rounding_div for the average, then
// saturate_acc and the requant.
#include <algorithm>
#include <vector>

#include "isa/numerics.h"
#include "isa/semantics_fast_util.h"
#include "isa/semantics_internal.h"

namespace tpusim::sem {

namespace {

// Max pool of one plane in int16, the loops shaped for the vectoriser: the centred input rows sit
// in rows of pw = pad_l + iw + pad_r int16 whose pad columns hold INT16_MIN (never the maximum of a
// window, which always holds an input element), so every window along x is kw plain loads at a
// constant stride; then the maxima of the clipped row ranges along y. The same maxima as the
// clipped windows of the reference (centred codes are within int16).
struct MaxPoolPlane {
  int64_t ih, pw, kw, sw, ow;
  const std::vector<int64_t>& ylo;
  const std::vector<int64_t>& yhi;
};

template <int64_t Stride>
void max_columns(const int16_t* x, int64_t kw, int64_t sw, int64_t ow, int16_t* r) {
  const int64_t s = Stride > 0 ? Stride : sw;
  for (int64_t ox = 0; ox < ow; ++ox) r[ox] = x[ox * s];
  for (int64_t kx = 1; kx < kw; ++kx)
    for (int64_t ox = 0; ox < ow; ++ox) r[ox] = std::max(r[ox], x[ox * s + kx]);
}

void max_pool_plane(const MaxPoolPlane& g, const int16_t* xpad, std::vector<int16_t>& cols, int32_t* q) {
  cols.resize(static_cast<size_t>(g.ih * g.ow));
  for (int64_t y = 0; y < g.ih; ++y) {
    const int16_t* x = xpad + y * g.pw;
    int16_t* r = cols.data() + y * g.ow;
    if (g.sw == 1)
      max_columns<1>(x, g.kw, g.sw, g.ow, r);
    else if (g.sw == 2)
      max_columns<2>(x, g.kw, g.sw, g.ow, r);
    else
      max_columns<0>(x, g.kw, g.sw, g.ow, r);
  }
  const int64_t oh = static_cast<int64_t>(g.ylo.size());
  for (int64_t oy = 0; oy < oh; ++oy) {
    int32_t* out = q + oy * g.ow;
    const int16_t* first = cols.data() + g.ylo[oy] * g.ow;
    for (int64_t ox = 0; ox < g.ow; ++ox) out[ox] = first[ox];
    for (int64_t y = g.ylo[oy] + 1; y < g.yhi[oy]; ++y) {
      const int16_t* r = cols.data() + y * g.ow;
      for (int64_t ox = 0; ox < g.ow; ++ox) out[ox] = std::max<int32_t>(out[ox], r[ox]);
    }
  }
}

}  // namespace

void exec_pool_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto p = ops::Pool::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(p), ops, m, dst.c, "pool");
  const bool is_max = p.mode == static_cast<int64_t>(PoolMode::Max);
  const int64_t ih = p.ih, iw = p.iw, oh = dst.h, ow = dst.w;
  // The windows clipped to the input (check() guarantees none is empty), once per instruction.
  std::vector<int64_t> xlo(ow), xhi(ow), ylo(oh), yhi(oh);
  for (int64_t ox = 0; ox < ow; ++ox) {
    const int64_t x0 = ox * p.stride_w - p.pad_l;
    xlo[ox] = std::max<int64_t>(x0, 0), xhi[ox] = std::min(x0 + p.kw, iw);
  }
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int64_t y0 = oy * p.stride_h - p.pad_t;
    ylo[oy] = std::max<int64_t>(y0, 0), yhi[oy] = std::min(y0 + p.kh, ih);
  }
  const std::vector<int32_t> no_bias(dst.c, 0);
  if (is_max) {
    const int64_t pw = p.pad_l + iw + p.pad_r;
    const MaxPoolPlane g{ih, pw, p.kw, p.stride_w, ow, ylo, yhi};
    std::vector<int16_t> xpad(static_cast<size_t>(ih * pw), INT16_MIN), cols;  // pads stay INT16_MIN
    std::vector<int32_t> q(static_cast<size_t>(oh * ow));
    for (uint64_t n = 0; n < dst.n; ++n)
      for (uint64_t c = 0; c < dst.c; ++c) {
        const Plane xp = plane(src, m, n, c), out = plane(dst, m, n, c);
        if (pw == iw)  // no pad columns: the plane in one call
          unpack_row(xp.base, xp.index, src.dtype, static_cast<int32_t>(p.in_zp), xpad.data(),
                     static_cast<uint64_t>(ih * iw));
        for (int64_t y = 0; y < ih && pw != iw; ++y)
          unpack_row(xp.base, xp.index + static_cast<uint64_t>(y * iw), src.dtype,
                     static_cast<int32_t>(p.in_zp), xpad.data() + y * pw + p.pad_l,
                     static_cast<uint64_t>(iw));
        max_pool_plane(g, xpad.data(), cols, q.data());
        store_row(out.base, out.index, dst.dtype, q.data(), q.size(), OutputTail(rq, no_bias, c), counters);
      }
    return;
  }
  std::vector<int16_t> x(static_cast<size_t>(ih * iw));
  std::vector<int64_t> rows(static_cast<size_t>(ih * ow));  // max or sum along each window's columns
  std::vector<int32_t> q(static_cast<size_t>(oh * ow));
  for (uint64_t n = 0; n < dst.n; ++n)
    for (uint64_t c = 0; c < dst.c; ++c) {
      const Plane xp = plane(src, m, n, c), out = plane(dst, m, n, c);
      unpack_row(xp.base, xp.index, src.dtype, static_cast<int32_t>(p.in_zp), x.data(), x.size());
      // Separable: first along x for every input row, then along y.
      for (int64_t y = 0; y < ih; ++y)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int16_t* r = x.data() + y * iw;
          int64_t v = is_max ? r[xlo[ox]] : 0;
          for (int64_t xx = xlo[ox]; xx < xhi[ox]; ++xx) v = is_max ? std::max<int64_t>(v, r[xx]) : v + r[xx];
          rows[static_cast<size_t>(y * ow + ox)] = v;
        }
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t v = is_max ? rows[static_cast<size_t>(ylo[oy] * ow + ox)] : 0;
          for (int64_t y = ylo[oy]; y < yhi[oy]; ++y) {
            const int64_t r = rows[static_cast<size_t>(y * ow + ox)];
            v = is_max ? std::max(v, r) : v + r;
          }
          const int64_t count = p.count_pad ? p.kh * p.kw : (yhi[oy] - ylo[oy]) * (xhi[ox] - xlo[ox]);
          q[static_cast<size_t>(oy * ow + ox)] = static_cast<int32_t>(is_max ? v : rounding_div(v, count));
        }
      store_row(out.base, out.index, dst.dtype, q.data(), q.size(), OutputTail(rq, no_bias, c), counters);
    }
}

}  // namespace tpusim::sem
