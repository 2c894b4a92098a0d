// Optimised twins of the MAC-heavy kernels (conv2d, matmul) and of lut. Same effect as the plain loops in
// semantics_tiu.cpp, which stay the reference; tests/isa/semantics_fast_test.cpp compares the two.
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

namespace {

// One (n, group) of a conv: the centred, zero-padded input planes xpad[ci][y][x] and the shape.
struct ConvGroup {
  const std::vector<int16_t>& xpad;
  int64_t icg, kh, kw, ph, pw, oh, ow, sh, sw, dh, dw;
  int64_t taps() const { return icg * kh * kw; }
};

// acc[oy][ox] += w * x for every tap: contiguous along the output row when stride 1. Best when
// output rows are wide.
void accumulate_rows(const ConvGroup& g, const int16_t* w, int32_t* acc) {
  for (int64_t ci = 0; ci < g.icg; ++ci)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int32_t wv = w[(ci * g.kh + ky) * g.kw + kx];
        if (wv == 0) continue;
        const int16_t* xrow0 = g.xpad.data() + ci * g.ph * g.pw + ky * g.dh * g.pw + kx * g.dw;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int16_t* xr = xrow0 + oy * g.sh * g.pw;
          int32_t* ar = acc + oy * g.ow;
          if (g.sw == 1)
            for (int64_t ox = 0; ox < g.ow; ++ox) ar[ox] += wv * xr[ox];
          else
            for (int64_t ox = 0; ox < g.ow; ++ox) ar[ox] += wv * xr[ox * g.sw];
        }
      }
}

// im2col: patches[p][tap] for every output position p, so each output is one contiguous dot
// product over the taps. Best for narrow outputs (tiles, late layers) and strided convs.
void build_patches(const ConvGroup& g, std::vector<int16_t>& patches) {
  patches.resize(static_cast<size_t>(g.oh * g.ow * g.taps()));
  int16_t* out = patches.data();
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox)
      for (int64_t ci = 0; ci < g.icg; ++ci)
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int16_t* xr = g.xpad.data() + ci * g.ph * g.pw + (oy * g.sh + ky * g.dh) * g.pw + ox * g.sw;
          for (int64_t kx = 0; kx < g.kw; ++kx) *out++ = xr[kx * g.dw];
        }
}

void accumulate_patches(const ConvGroup& g, const std::vector<int16_t>& patches, const int16_t* w,
                        int32_t* acc) {
  const int64_t taps = g.taps();
  for (int64_t p = 0; p < g.oh * g.ow; ++p) {
    const int16_t* x = patches.data() + p * taps;
    int32_t dot = 0;
    for (int64_t t = 0; t < taps; ++t) dot += int32_t{x[t]} * w[t];
    acc[p] = dot;
  }
}

// False when the reduction is too long for an exact int32 sum (nothing written yet).
bool try_conv2d_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto c = ops::Conv2d::from(in);
  const int64_t icg = c.ic / c.groups, ocg = c.oc / c.groups;
  if (icg * c.kh * c.kw > kMaxExactTerms) return false;
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &weight = ops.get("weight"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(c), ops, m, dst.c, "conv2d");
  const std::vector<int32_t> bias = read_bias(ops, m, dst.c);
  const int64_t ih = c.ih, iw = c.iw;
  std::vector<int16_t> xpad(static_cast<size_t>(icg * (ih + c.pad_t + c.pad_b) * (iw + c.pad_l + c.pad_r)));
  const ConvGroup g{xpad,
                    icg,
                    c.kh,
                    c.kw,
                    ih + c.pad_t + c.pad_b,
                    iw + c.pad_l + c.pad_r,
                    static_cast<int64_t>(dst.h),
                    static_cast<int64_t>(dst.w),
                    c.stride_h,
                    c.stride_w,
                    c.dil_h,
                    c.dil_w};
  // Wide stride-1 rows vectorise along the row; anything else along the taps of an im2col patch.
  const bool by_rows = g.sw == 1 && g.ow >= 16;
  std::vector<int16_t> wbuf(static_cast<size_t>(g.taps())), patches;
  std::vector<int32_t> acc(static_cast<size_t>(g.oh * g.ow));
  for (uint64_t n = 0; n < dst.n; ++n)
    for (int64_t grp = 0; grp < c.groups; ++grp) {
      std::fill(xpad.begin(), xpad.end(), int16_t{0});
      for (int64_t ci = 0; ci < icg; ++ci) {
        const Plane p = plane(src, m, n, static_cast<uint64_t>(grp * icg + ci));
        int16_t* dstp = xpad.data() + ci * g.ph * g.pw;
        for (int64_t y = 0; y < ih; ++y)
          for (int64_t x = 0; x < iw; ++x)
            dstp[(y + c.pad_t) * g.pw + x + c.pad_l] =
                static_cast<int16_t>(load_elem(p.base, p.index + y * iw + x, src.dtype) - c.in_zp);
      }
      if (!by_rows) build_patches(g, patches);
      for (int64_t o = grp * ocg; o < (grp + 1) * ocg; ++o) {
        const Plane wp = plane(weight, m, 0, static_cast<uint64_t>(o));
        for (int64_t i = 0; i < g.taps(); ++i)
          wbuf[i] = static_cast<int16_t>(load_elem(wp.base, wp.index + i, weight.dtype));
        if (by_rows) {
          std::fill(acc.begin(), acc.end(), 0);
          accumulate_rows(g, wbuf.data(), acc.data());
        } else {
          accumulate_patches(g, patches, wbuf.data(), acc.data());
        }
        const Plane out = plane(dst, m, n, static_cast<uint64_t>(o));
        for (int64_t i = 0; i < g.oh * g.ow; ++i)
          store_elem(out.base, out.index + i, dst.dtype,
                     rq.apply(saturate_acc(int64_t{bias[o]} + acc[i], counters), static_cast<uint64_t>(o)));
      }
    }
  counters.macs += dst.n * dst.c * dst.h * dst.w * static_cast<uint64_t>(g.taps());
  return true;
}

bool try_matmul_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
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
    for (int64_t k = 0; k < mm.k; ++k)
      w[j * mm.k + k] = static_cast<int16_t>(load_elem(wp.base, wp.index + k, weight.dtype));
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

}  // namespace

void exec_conv2d_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  if (!try_conv2d_fast(in, m, counters)) exec_conv2d(in, m, counters);
}

void exec_matmul_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  if (!try_matmul_fast(in, m, counters)) exec_matmul(in, m, counters);
}

// lut: each lane's table is decoded once into int32 entries, and whole (n, c) planes of bytes
// (8-bit input) are mapped through it; 4-bit planes go element by element.
void exec_lut_fast(const Instr& in, const MemView& m, ExecCounters&) {
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &table = ops.get("table"), &dst = ops.get("dst");
  const uint64_t entries = table.w, lanes_used = table.c;
  std::vector<int32_t> decoded(lanes_used * entries);
  for (uint64_t l = 0; l < lanes_used; ++l) {
    const Plane tab = plane(table, m, 0, l);
    for (uint64_t i = 0; i < entries; ++i)
      decoded[l * entries + i] = load_elem(tab.base, tab.index + i, table.dtype);
  }
  const bool bytes_in = bits(src.dtype) == 8, bytes_out = bits(dst.dtype) == 8;
  const uint32_t bias = static_cast<uint32_t>(-traits(src.dtype).qmin);  // input code -> entry
  const uint64_t plane_elems = dst.h * dst.w;
  for (uint64_t n = 0; n < dst.n; ++n)
    for (uint64_t c = 0; c < dst.c; ++c) {
      const Plane x = plane(src, m, n, c), out = plane(dst, m, n, c);
      const int32_t* t = decoded.data() + (c % m.geo.lanes) * entries;
      if (bytes_in && bytes_out) {
        const uint8_t* xp = x.base + x.index;
        uint8_t* op = out.base + out.index;
        for (uint64_t i = 0; i < plane_elems; ++i)
          op[i] = static_cast<uint8_t>(t[static_cast<uint8_t>(xp[i] + bias)]);
        continue;
      }
      for (uint64_t i = 0; i < plane_elems; ++i) {
        const auto entry = static_cast<uint32_t>(load_elem(x.base, x.index + i, src.dtype)) + bias;
        store_elem(out.base, out.index + i, dst.dtype, t[entry & (entries - 1)]);
      }
    }
}

}  // namespace tpusim::sem
