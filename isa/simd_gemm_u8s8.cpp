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

// One row of a against four rows of b, through int16.
void dot4_widen(const uint8_t* a, const int8_t* const* b, size_t k, int32_t* out) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const hn::Rebind<int8_t, decltype(d16)> ds8;
  const size_t step = hn::Lanes(d16);
  auto s0 = hn::Zero(d32), s1 = hn::Zero(d32), s2 = hn::Zero(d32), s3 = hn::Zero(d32);
  auto u0 = hn::Zero(d32), u1 = hn::Zero(d32), u2 = hn::Zero(d32), u3 = hn::Zero(d32);
  size_t i = 0;
  for (; i + step <= k; i += step) {
    const auto x = hn::PromoteTo(d16, hn::LoadU(du8, a + i));
    s0 = hn::ReorderWidenMulAccumulate(d32, x, hn::PromoteTo(d16, hn::LoadU(ds8, b[0] + i)), s0, u0);
    s1 = hn::ReorderWidenMulAccumulate(d32, x, hn::PromoteTo(d16, hn::LoadU(ds8, b[1] + i)), s1, u1);
    s2 = hn::ReorderWidenMulAccumulate(d32, x, hn::PromoteTo(d16, hn::LoadU(ds8, b[2] + i)), s2, u2);
    s3 = hn::ReorderWidenMulAccumulate(d32, x, hn::PromoteTo(d16, hn::LoadU(ds8, b[3] + i)), s3, u3);
  }
  out[0] = wrap_add(hn::GetLane(hn::SumOfLanes(d32, hn::Add(s0, u0))), tail_dot(a, b[0], i, k));
  out[1] = wrap_add(hn::GetLane(hn::SumOfLanes(d32, hn::Add(s1, u1))), tail_dot(a, b[1], i, k));
  out[2] = wrap_add(hn::GetLane(hn::SumOfLanes(d32, hn::Add(s2, u2))), tail_dot(a, b[2], i, k));
  out[3] = wrap_add(hn::GetLane(hn::SumOfLanes(d32, hn::Add(s3, u3))), tail_dot(a, b[3], i, k));
}

#if HWY_TARGET == HWY_AVX3_DL
// P rows of a against four rows of b: 4 * P accumulators, the last partial vector by masked loads.
template <size_t P>
__attribute__((target(HWY_TARGET_STR ",avx512vnni"))) void block_vnni(const uint8_t* a,
                                                                      const int8_t* const* b, size_t k,
                                                                      int32_t* out, size_t ldc) {
  __m512i s[4][P];
  for (auto& row : s)
    for (auto& v : row) v = _mm512_setzero_si512();
  for (size_t i = 0; i < k; i += 64) {
    const __mmask64 m = k - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (k - i)) - 1;
    __m512i x[P];
    for (size_t p = 0; p < P; ++p) x[p] = _mm512_maskz_loadu_epi8(m, a + p * k + i);
    for (size_t j = 0; j < 4; ++j) {
      const __m512i w = _mm512_maskz_loadu_epi8(m, b[j] + i);
      for (size_t p = 0; p < P; ++p) s[j][p] = _mm512_dpbusd_epi32(s[j][p], x[p], w);
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
void rows4(const uint8_t* a, size_t rows_a, const int8_t* const* b, size_t k, int32_t* c, size_t ldc) {
  size_t p = 0;
#if HWY_TARGET == HWY_AVX3_DL
  if (have_vnni()) {
    for (; p + 2 <= rows_a; p += 2) block_vnni<2>(a + p * k, b, k, c + p, ldc);
    for (; p < rows_a; ++p) block_vnni<1>(a + p * k, b, k, c + p, ldc);
  }
#endif
  for (; p < rows_a; ++p) {
    int32_t r[4];
    dot4_widen(a + p * k, b, k, r);
    for (size_t j = 0; j < 4; ++j) c[j * ldc + p] = r[j];
  }
}

void GemmU8S8(const uint8_t* a, size_t rows_a, const int8_t* const* b, size_t rows_b, size_t k, int32_t* c,
              size_t ldc) {
  size_t o = 0;
  for (; o + 4 <= rows_b; o += 4) rows4(a, rows_a, b + o, k, c + o * ldc, ldc);
  if (o == rows_b) return;
  // The last 1-3 rows of b completed to four by a zero row, their results dropped.
  const std::vector<int8_t> zero(k, 0);
  const int8_t* b4[4];
  for (size_t j = 0; j < 4; ++j) b4[j] = o + j < rows_b ? b[o + j] : zero.data();
  std::vector<int32_t> c4(4 * rows_a);
  rows4(a, rows_a, b4, k, c4.data(), rows_a);
  for (size_t j = 0; o + j < rows_b; ++j)
    std::copy(c4.begin() + j * rows_a, c4.begin() + (j + 1) * rows_a, c + (o + j) * ldc);
}

}  // namespace HWY_NAMESPACE
}  // namespace tpusim::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tpusim::simd {

HWY_EXPORT(GemmU8S8);

void gemm_u8s8(const uint8_t* a, size_t rows_a, const int8_t* const* b, size_t rows_b, size_t k, int32_t* c,
               size_t ldc) {
  HWY_DYNAMIC_DISPATCH(GemmU8S8)(a, rows_a, b, rows_b, k, c, ldc);
}

}  // namespace tpusim::simd
#endif
