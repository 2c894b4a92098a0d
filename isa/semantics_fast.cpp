// Optimised twins of the MAC-heavy kernels (conv2d, matmul); pool, eltwise and lut are in
// semantics_fast_pool.cpp and semantics_fast_eltwise_lut.cpp. Same effect as the plain loops in
// semantics_tiu.cpp, which stay the reference; tests/isa/semantics_fast_test.cpp and
// semantics_fast_random_test.cpp compare the two.
//
// Two paths, both on the Highway kernels of isa/simd_kernels.h (runtime dispatch AVX-512 VNNI /
// AVX-512 / AVX2 / SSE4):
// - im2col + gemm (most convs, every matmul): inputs as unsigned bytes x + off (off = -qmin of the
//   input type; padding = in_zp + off), weights as signed bytes — int8 weights as stored, int4 ones
//   nibble-unpacked — multiplied by gemm_u8s8; the offset is removed per output channel by the
//   correction -(in_zp + off) * sum(w). |x + off| <= 255, |w| <= 128: exact in int32 for K < 2^16.
// - flat axpy (stride 1, fewer than 32 taps, e.g. a first layer): centred int16 planes, one long
//   multiply-add per tap over the flattened padded plane (axpy_i16).
// Longer reductions fall back to the reference kernel.
#include <algorithm>
#include <cstring>
#include <vector>

#include "isa/numerics.h"
#include "isa/semantics_fast_util.h"
#include "isa/semantics_internal.h"
#include "isa/simd_kernels.h"

namespace tpusim::sem {

namespace {

// Stride 1, few taps: acc[oy * pw + ox] += w * xpad[...] over the flattened padded plane, one
// contiguous axpy of (oh - 1) * pw + ow elements per tap (the columns ox >= ow are never read).
void accumulate_flat(const ConvShape& g, const int16_t* xpad, const int16_t* w, int32_t* acc) {
  const auto len = static_cast<size_t>((g.oh - 1) * g.pw + g.ow);
  for (int64_t ci = 0; ci < g.icg; ++ci)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int32_t wv = w[(ci * g.kh + ky) * g.kw + kx];
        if (wv != 0) simd::axpy_i16(wv, xpad + ci * g.plane() + ky * g.dh * g.pw + kx * g.dw, acc, len);
      }
}

// out[0..kw) = xr[0..kw): fixed-size copies for the common kernel widths (a memmove call per 3
// bytes cost more than the copy).
inline uint8_t* copy_taps(const uint8_t* xr, int64_t kw, uint8_t* out) {
  switch (kw) {
    case 1: *out = *xr; return out + 1;
    case 3: std::memcpy(out, xr, 3); return out + 3;
    case 5: std::memcpy(out, xr, 5); return out + 5;
    case 7: std::memcpy(out, xr, 7); return out + 7;
    default: return std::copy(xr, xr + kw, out);
  }
}

// im2col: patches[p][tap] for every output position p, so each output is one contiguous dot
// product over the taps.
void build_patches(const ConvShape& g, const uint8_t* xpad, std::vector<uint8_t>& patches) {
  patches.resize(static_cast<size_t>(g.oh * g.ow * g.taps()));
  uint8_t* out = patches.data();
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox)
      for (int64_t ci = 0; ci < g.icg; ++ci)
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const uint8_t* xr = xpad + ci * g.plane() + (oy * g.sh + ky * g.dh) * g.pw + ox * g.sw;
          if (g.dw == 1) {
            out = copy_taps(xr, g.kw, out);
          } else {
            for (int64_t kx = 0; kx < g.kw; ++kx) *out++ = xr[kx * g.dw];
          }
        }
}

// Every weight row (channel o: `taps` codes) as signed bytes: int8 rows read in place in LMEM,
// int4 rows unpacked into `storage`.
std::vector<const int8_t*> weight_rows(const Tensor& weight, const MemView& m, int64_t rows, int64_t taps,
                                       std::vector<int8_t>& storage) {
  std::vector<const int8_t*> w(static_cast<size_t>(rows));
  if (weight.dtype != DType::Int8) storage.resize(static_cast<size_t>(rows * taps));
  for (int64_t o = 0; o < rows; ++o) {
    const Plane wp = plane(weight, m, 0, static_cast<uint64_t>(o));
    if (weight.dtype == DType::Int8) {
      w[static_cast<size_t>(o)] = reinterpret_cast<const int8_t*>(wp.base + wp.index);
      continue;
    }
    int8_t* row = storage.data() + o * taps;
    unpack_row_s8(wp.base, wp.index, weight.dtype, row, static_cast<uint64_t>(taps));
    w[static_cast<size_t>(o)] = row;
  }
  return w;
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
  const ConvShape g{icg,
                    c.kh,
                    c.kw,
                    ih + c.pad_t + c.pad_b,
                    iw + c.pad_l + c.pad_r,
                    int64_t(dst.h),
                    int64_t(dst.w),
                    c.stride_h,
                    c.stride_w,
                    c.dil_h,
                    c.dil_w};
  const int64_t taps = g.taps(), outs = g.oh * g.ow;
  const bool flat = g.sh == 1 && g.sw == 1 && taps < 32;
  // Whole input rows of a tap row are contiguous channels-last: segments instead of im2col, where
  // the patches (outs x taps bytes) would outweigh reordering the weights (ocg x taps).
  const bool nhwc = !flat && g.dw == 1 && g.kw * icg >= 64 && outs >= 4 * ocg;
  const auto pad_code = static_cast<int32_t>(c.in_zp - traits(src.dtype).qmin);  // in_zp + off
  // Scratch reused across instructions (no allocation and page faults per conv); every element
  // read is written first in this call.
  thread_local std::vector<int16_t> x16, w16;
  thread_local std::vector<uint8_t> x8, patches;
  thread_local std::vector<int32_t> acc;
  std::vector<int8_t> w8;
  std::vector<const int8_t*> wrows;
  if (flat) {
    x16.resize(static_cast<size_t>(icg * g.plane()));
    w16.resize(static_cast<size_t>(c.oc * taps));
    for (int64_t o = 0; o < c.oc; ++o) {
      const Plane wp = plane(weight, m, 0, static_cast<uint64_t>(o));
      unpack_row(wp.base, wp.index, weight.dtype, 0, w16.data() + o * taps, static_cast<uint64_t>(taps));
    }
  } else {
    x8.resize(static_cast<size_t>(icg * g.plane()));
    wrows = weight_rows(weight, m, c.oc, taps, w8);
  }
  // gemm: acc[o][p] for the outs patches and, after them, a row of ones: acc[o][outs] = sum(w[o]).
  const int64_t ld = outs + 1;
  acc.resize(static_cast<size_t>(flat ? g.oh * g.pw : ocg * ld));
  for (uint64_t n = 0; n < dst.n; ++n)
    for (int64_t grp = 0; grp < c.groups; ++grp) {
      // The group's padded input planes: centred int16 (flat) or offset bytes (gemm).
      if (flat)
        std::fill(x16.begin(), x16.end(), int16_t{0});
      else
        std::fill(x8.begin(), x8.end(), static_cast<uint8_t>(pad_code));
      for (int64_t ci = 0; ci < icg; ++ci) {
        const Plane p = plane(src, m, n, static_cast<uint64_t>(grp * icg + ci));
        for (int64_t y = 0; y < ih; ++y) {
          const uint64_t from = p.index + static_cast<uint64_t>(y * iw);
          const int64_t at = ci * g.plane() + (y + c.pad_t) * g.pw + c.pad_l;
          if (flat)
            unpack_row(p.base, from, src.dtype, static_cast<int32_t>(c.in_zp), x16.data() + at,
                       static_cast<uint64_t>(iw));
          else
            unpack_row_u8(p.base, from, src.dtype, x8.data() + at, static_cast<uint64_t>(iw));
        }
      }
      if (nhwc) {
        conv_group_nhwc(g, x8.data(), wrows.data() + grp * ocg, ocg, acc.data(), ld);
      } else if (!flat) {
        build_patches(g, x8.data(), patches);
        patches.resize(patches.size() + static_cast<size_t>(taps), uint8_t{1});
        simd::gemm_u8s8(patches.data(), static_cast<size_t>(ld), wrows.data() + grp * ocg,
                        static_cast<size_t>(ocg), static_cast<size_t>(taps), acc.data(),
                        static_cast<size_t>(ld));
      }
      for (int64_t o = grp * ocg; o < (grp + 1) * ocg; ++o) {
        const Plane out = plane(dst, m, n, static_cast<uint64_t>(o));
        if (!flat) {
          const int32_t* row = acc.data() + (o - grp * ocg) * ld;
          store_row(out.base, out.index, dst.dtype, row, static_cast<uint64_t>(outs),
                    offset_tail(rq, bias, o, pad_code, row[outs]), counters);
          continue;
        }
        const OutputTail tail(rq, bias, static_cast<uint64_t>(o));
        std::fill(acc.begin(), acc.end(), 0);
        accumulate_flat(g, x16.data(), w16.data() + o * taps, acc.data());
        // The output rows packed in place (row oy moves down from oy * pw to oy * ow), one store.
        for (int64_t oy = 1; oy < g.oh && g.pw != g.ow; ++oy)
          std::copy(acc.begin() + oy * g.pw, acc.begin() + oy * g.pw + g.ow, acc.begin() + oy * g.ow);
        store_row(out.base, out.index, dst.dtype, acc.data(), static_cast<uint64_t>(outs), tail, counters);
      }
    }
  counters.macs += dst.n * dst.c * dst.h * dst.w * static_cast<uint64_t>(taps);
  return true;
}

bool try_matmul_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto mm = ops::Matmul::from(in);
  if (mm.k > kMaxExactTerms) return false;
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &weight = ops.get("weight"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(mm), ops, m, dst.c, "matmul");
  const std::vector<int32_t> bias = read_bias(ops, m, dst.c);
  const auto k = static_cast<uint64_t>(mm.k);
  std::vector<int8_t> storage;
  const std::vector<const int8_t*> w = weight_rows(weight, m, mm.n, mm.k, storage);
  // The input rows x[i][k] + off (element k is channel k, one per lane), then a row of ones: its
  // products are the weight sums, acc[j][m].
  const int32_t off = -traits(src.dtype).qmin, pad_code = static_cast<int32_t>(mm.in_zp) + off;
  const int64_t ld = mm.m + 1;
  std::vector<uint8_t> x(static_cast<size_t>(ld) * k, uint8_t{1});
  for (int64_t i = 0; i < mm.m; ++i)
    for (uint64_t kk = 0; kk < k; ++kk) {
      const Plane p = plane(src, m, static_cast<uint64_t>(i), kk);
      x[i * k + kk] = static_cast<uint8_t>(load_elem(p.base, p.index, src.dtype) + off);
    }
  std::vector<int32_t> acc(static_cast<size_t>(mm.n * ld));  // acc[j][i]
  simd::gemm_u8s8(x.data(), static_cast<size_t>(ld), w.data(), static_cast<size_t>(mm.n), k, acc.data(),
                  static_cast<size_t>(ld));
  for (int64_t j = 0; j < mm.n; ++j) {
    const OutputTail tail = offset_tail(rq, bias, j, pad_code, acc[static_cast<size_t>(j * ld + mm.m)]);
    for (int64_t i = 0; i < mm.m; ++i) {
      const Plane out = plane(dst, m, static_cast<uint64_t>(i), static_cast<uint64_t>(j));
      store_row(out.base, out.index, dst.dtype, acc.data() + j * ld + i, 1, tail, counters);
    }
  }
  counters.macs += static_cast<uint64_t>(mm.m * mm.n * mm.k);
  return true;
}

}  // namespace

void exec_conv2d_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  if (!try_conv2d_quads(in, m, counters) && !try_conv2d_fast(in, m, counters)) exec_conv2d(in, m, counters);
}

void exec_matmul_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  if (!try_matmul_fast(in, m, counters)) exec_matmul(in, m, counters);
}

}  // namespace tpusim::sem
