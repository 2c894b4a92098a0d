// simd::gemm_u8s8 (isa/simd_kernels.h): unsigned bytes times signed bytes, summed in int32. On
// AVX-512 VNNI (Highway's AVX3_DL target, when the CPU reports avx512vnni) one vpdpbusd multiplies
// 64 byte pairs and adds each four into an int32 lane without saturation; every other target
// widens both operands to int16 and multiply-adds pairs (ReorderWidenMulAccumulate).
#include "isa/simd_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "isa/simd_gemm_u8s8.cpp"
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <vector>

#if HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace tpusim::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

inline int32_t wrap_add(int32_t s, int32_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(s) + static_cast<uint32_t>(v));
}

int32_t tail_dot(const uint8_t* a, const int8_t* b, size_t from, size_t k) {
  int32_t s = 0;
  for (size_t i = from; i < k; ++i) s = wrap_add(s, int32_t{a[i]} * b[i]);
  return s;
}

// Row p of a against four rows of b, through int16, segment by segment.
void dot4_widen(const SegmentedRows& a, size_t p, const int8_t* const* b, int32_t* out) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const hn::Rebind<int8_t, decltype(d16)> ds8;
  const size_t step = hn::Lanes(d16), len = a.len;
  auto s0 = hn::Zero(d32), s1 = hn::Zero(d32), s2 = hn::Zero(d32), s3 = hn::Zero(d32);
  auto u0 = hn::Zero(d32), u1 = hn::Zero(d32), u2 = hn::Zero(d32), u3 = hn::Zero(d32);
  int32_t tail[4] = {0, 0, 0, 0};
  for (size_t s = 0; s < a.segs; ++s) {
    const uint8_t* x = a.base + a.row[p] + a.seg[s];
    const size_t w0 = s * len;
    size_t i = 0;
    for (; i + step <= len; i += step) {
      const auto xv = hn::PromoteTo(d16, hn::LoadU(du8, x + i));
      s0 = hn::ReorderWidenMulAccumulate(d32, xv, hn::PromoteTo(d16, hn::LoadU(ds8, b[0] + w0 + i)), s0, u0);
      s1 = hn::ReorderWidenMulAccumulate(d32, xv, hn::PromoteTo(d16, hn::LoadU(ds8, b[1] + w0 + i)), s1, u1);
      s2 = hn::ReorderWidenMulAccumulate(d32, xv, hn::PromoteTo(d16, hn::LoadU(ds8, b[2] + w0 + i)), s2, u2);
      s3 = hn::ReorderWidenMulAccumulate(d32, xv, hn::PromoteTo(d16, hn::LoadU(ds8, b[3] + w0 + i)), s3, u3);
    }
    for (size_t j = 0; j < 4; ++j) tail[j] = wrap_add(tail[j], tail_dot(x, b[j] + w0, i, len));
  }
  out[0] = wrap_add(hn::GetLane(hn::SumOfLanes(d32, hn::Add(s0, u0))), tail[0]);
  out[1] = wrap_add(hn::GetLane(hn::SumOfLanes(d32, hn::Add(s1, u1))), tail[1]);
  out[2] = wrap_add(hn::GetLane(hn::SumOfLanes(d32, hn::Add(s2, u2))), tail[2]);
  out[3] = wrap_add(hn::GetLane(hn::SumOfLanes(d32, hn::Add(s3, u3))), tail[3]);
}

#if HWY_TARGET == HWY_AVX3_DL
// Rows p0..p0+P-1 of a against four rows of b: 4 * P accumulators, each segment's last partial
// vector by masked loads.
template <size_t P>
__attribute__((target(HWY_TARGET_STR ",avx512vnni"))) void block_vnni(const SegmentedRows& a, size_t p0,
                                                                      const int8_t* const* b, int32_t* out,
                                                                      size_t ldc) {
  __m512i s[4][P];
  for (auto& row : s)
    for (auto& v : row) v = _mm512_setzero_si512();
  const size_t len = a.len;
  for (size_t g = 0; g < a.segs; ++g) {
    const uint8_t* x0[P];
    for (size_t p = 0; p < P; ++p) x0[p] = a.base + a.row[p0 + p] + a.seg[g];
    const size_t w0 = g * len;
    for (size_t i = 0; i < len; i += 64) {
      const __mmask64 m = len - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (len - i)) - 1;
      __m512i x[P];
      for (size_t p = 0; p < P; ++p) x[p] = _mm512_maskz_loadu_epi8(m, x0[p] + i);
      for (size_t j = 0; j < 4; ++j) {
        const __m512i w = _mm512_maskz_loadu_epi8(m, b[j] + w0 + i);
        for (size_t p = 0; p < P; ++p) s[j][p] = _mm512_dpbusd_epi32(s[j][p], x[p], w);
      }
    }
  }
  for (size_t j = 0; j < 4; ++j)
    for (size_t p = 0; p < P; ++p) out[j * ldc + p] = _mm512_reduce_add_epi32(s[j][p]);
}

bool have_vnni() {
  static const bool ok = __builtin_cpu_supports("avx512vnni");
  return ok;
}
#endif

// Every row of a against the four rows b[0..3].
void rows4(const SegmentedRows& a, const int8_t* const* b, int32_t* c, size_t ldc) {
  size_t p = 0;
#if HWY_TARGET == HWY_AVX3_DL
  if (have_vnni()) {
    for (; p + 2 <= a.rows; p += 2) block_vnni<2>(a, p, b, c + p, ldc);
    for (; p < a.rows; ++p) block_vnni<1>(a, p, b, c + p, ldc);
  }
#endif
  for (; p < a.rows; ++p) {
    int32_t r[4];
    dot4_widen(a, p, b, r);
    for (size_t j = 0; j < 4; ++j) c[j * ldc + p] = r[j];
  }
}

void GemmSegmentsU8S8(const SegmentedRows& a, const int8_t* const* b, size_t rows_b, int32_t* c, size_t ldc) {
  size_t o = 0;
  for (; o + 4 <= rows_b; o += 4) rows4(a, b + o, c + o * ldc, ldc);
  if (o == rows_b) return;
  // The last 1-3 rows of b completed to four by a zero row, their results dropped.
  const std::vector<int8_t> zero(a.segs * a.len, 0);
  const int8_t* b4[4];
  for (size_t j = 0; j < 4; ++j) b4[j] = o + j < rows_b ? b[o + j] : zero.data();
  std::vector<int32_t> c4(4 * a.rows);
  rows4(a, b4, c4.data(), a.rows);
  for (size_t j = 0; o + j < rows_b; ++j)
    std::copy(c4.begin() + j * a.rows, c4.begin() + (j + 1) * a.rows, c + (o + j) * ldc);
}

}  // namespace HWY_NAMESPACE
}  // namespace tpusim::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tpusim::simd {

HWY_EXPORT(GemmSegmentsU8S8);

void gemm_segments_u8s8(const SegmentedRows& a, const int8_t* const* b, size_t rows_b, int32_t* c,
                        size_t ldc) {
  HWY_DYNAMIC_DISPATCH(GemmSegmentsU8S8)(a, b, rows_b, c, ldc);
}

void gemm_u8s8(const uint8_t* a, size_t rows_a, const int8_t* const* b, size_t rows_b, size_t k, int32_t* c,
               size_t ldc) {
  std::vector<size_t> row(rows_a);
  for (size_t p = 0; p < rows_a; ++p) row[p] = p * k;
  const size_t seg = 0;
  gemm_segments_u8s8(SegmentedRows{a, row.data(), rows_a, &seg, 1, k}, b, rows_b, c, ldc);
}

}  // namespace tpusim::simd
#endif
