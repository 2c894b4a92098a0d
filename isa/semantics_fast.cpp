// Optimised twins of the MAC-heavy kernels (conv2d, matmul). Same effect as the plain loops in
// semantics_tiu.cpp, which stay the reference; tests/semantics_fast_test.cpp compares the two.
//
// Speed comes from unpacking operands once into int16 buffers — centred inputs (x - in_zp) with
// the padding materialised as zeros, and weights — so the inner loop is a contiguous
// int16 x int16 -> int32 multiply-add the compiler vectorises. |x - in_zp| <= 255 and |w| <= 128
// (check() keeps zero points inside their types), so a product is < 2^15 and an int32 sum of K
// products is exact while K * 2^15 < 2^31. Larger K falls back to the reference kernel.
#include <algorithm>
#include <vector>

#include "isa/numerics.h"
#include "isa/semantics_internal.h"

namespace tpusim::sem {

constexpr int64_t kMaxExactTerms = (int64_t{1} << 31) / (int64_t{1} << 15) - 1;

bool exec_conv2d_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto c = ops::Conv2d::from(in);
  const int64_t icg = c.ic / c.groups, ocg = c.oc / c.groups, kh = c.kh, kw = c.kw;
  if (icg * kh * kw > kMaxExactTerms) return false;
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &weight = ops.get("weight"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(c), ops, m, dst.c, "conv2d");
  const std::vector<int32_t> bias = read_bias(ops, m, dst.c);
  const int64_t ih = c.ih, iw = c.iw, oh = dst.h, ow = dst.w, sh = c.stride_h, sw = c.stride_w;
  const int64_t ph = ih + c.pad_t + c.pad_b, pw = iw + c.pad_l + c.pad_r;  // padded plane
  std::vector<int16_t> xpad(static_cast<size_t>(icg * ph * pw));
  std::vector<int16_t> wbuf(static_cast<size_t>(icg * kh * kw));
  std::vector<int32_t> acc(static_cast<size_t>(oh * ow));
  for (uint64_t n = 0; n < dst.n; ++n)
    for (int64_t g = 0; g < c.groups; ++g) {
      // The group's input, centred, zero-padded: xpad[ci][y][x].
      std::fill(xpad.begin(), xpad.end(), int16_t{0});
      for (int64_t ci = 0; ci < icg; ++ci) {
        const Plane p = plane(src, m, n, static_cast<uint64_t>(g * icg + ci));
        int16_t* dstp = xpad.data() + ci * ph * pw;
        for (int64_t y = 0; y < ih; ++y)
          for (int64_t x = 0; x < iw; ++x)
            dstp[(y + c.pad_t) * pw + x + c.pad_l] =
                static_cast<int16_t>(load_elem(p.base, p.index + y * iw + x, src.dtype) - c.in_zp);
      }
      for (int64_t o = g * ocg; o < (g + 1) * ocg; ++o) {
        const Plane wp = plane(weight, m, 0, static_cast<uint64_t>(o));
        for (int64_t i = 0; i < icg * kh * kw; ++i)
          wbuf[i] = static_cast<int16_t>(load_elem(wp.base, wp.index + i, weight.dtype));
        std::fill(acc.begin(), acc.end(), 0);
        for (int64_t ci = 0; ci < icg; ++ci)
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int32_t wv = wbuf[(ci * kh + ky) * kw + kx];
              if (wv == 0) continue;
              const int16_t* xrow0 = xpad.data() + ci * ph * pw + ky * c.dil_h * pw + kx * c.dil_w;
              for (int64_t oy = 0; oy < oh; ++oy) {
                const int16_t* xr = xrow0 + oy * sh * pw;
                int32_t* ar = acc.data() + oy * ow;
                if (sw == 1)
                  for (int64_t ox = 0; ox < ow; ++ox) ar[ox] += wv * xr[ox];
                else
                  for (int64_t ox = 0; ox < ow; ++ox) ar[ox] += wv * xr[ox * sw];
              }
            }
        const Plane out = plane(dst, m, n, static_cast<uint64_t>(o));
        for (int64_t i = 0; i < oh * ow; ++i)
          store_elem(out.base, out.index + i, dst.dtype,
                     rq.apply(saturate_acc(int64_t{bias[o]} + acc[i], counters), static_cast<uint64_t>(o)));
      }
    }
  counters.macs += dst.n * dst.c * dst.h * dst.w * static_cast<uint64_t>(icg * kh * kw);
  return true;
}

bool exec_matmul_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto mm = ops::Matmul::from(in);
  if (mm.k > kMaxExactTerms) return false;
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &weight = ops.get("weight"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(mm), ops, m, dst.c, "matmul");
  const std::vector<int32_t> bias = read_bias(ops, m, dst.c);
  // All weight rows unpacked once: w[j][k].
  std::vector<int16_t> w(static_cast<size_t>(mm.n * mm.k)), row(static_cast<size_t>(mm.k));
  for (int64_t j = 0; j < mm.n; ++j) {
    const Plane wp = plane(weight, m, 0, static_cast<uint64_t>(j));
    for (int64_t k = 0; k < mm.k; ++k) w[j * mm.k + k] = static_cast<int16_t>(load_elem(wp.base, wp.index + k, weight.dtype));
  }
  for (int64_t i = 0; i < mm.m; ++i) {
    for (int64_t k = 0; k < mm.k; ++k) {
      const Plane p = plane(src, m, static_cast<uint64_t>(i), static_cast<uint64_t>(k));
      row[k] = static_cast<int16_t>(load_elem(p.base, p.index, src.dtype) - mm.in_zp);
    }
    for (int64_t j = 0; j < mm.n; ++j) {
      const int16_t* wr = w.data() + j * mm.k;
      int32_t dot = 0;
      for (int64_t k = 0; k < mm.k; ++k) dot += int32_t{row[k]} * wr[k];
      const Plane out = plane(dst, m, static_cast<uint64_t>(i), static_cast<uint64_t>(j));
      store_elem(out.base, out.index, dst.dtype,
                 rq.apply(saturate_acc(int64_t{bias[j]} + dot, counters), static_cast<uint64_t>(j)));
    }
  }
  counters.macs += static_cast<uint64_t>(mm.m * mm.n * mm.k);
  return true;
}

}  // namespace tpusim::sem
