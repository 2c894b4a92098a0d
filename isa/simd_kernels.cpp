// Highway kernels of isa/simd_kernels.h. This file is compiled once per target through
// hwy/foreach_target.h; the plain functions at the end dispatch to the best target at run time.
#include "isa/simd_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "isa/simd_kernels.cpp"
// Also build the Ice Lake target (AVX-512 VNNI/VBMI2), which Highway 1.0 leaves out by default.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace tpusim::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D32 = hn::ScalableTag<int32_t>;

void AxpyI16(int32_t w, const int16_t* x, int32_t* acc, size_t n) {
  const D32 d32;
  const hn::Rebind<int16_t, D32> dh;  // as many int16 lanes as D32 has: promoted one to one
  const size_t step = hn::Lanes(d32);
  const auto wv = hn::Set(d32, w);
  size_t i = 0;
  for (; i + step <= n; i += step) {
    const auto xv = hn::PromoteTo(d32, hn::LoadU(dh, x + i));
    hn::StoreU(hn::Add(hn::LoadU(d32, acc + i), hn::Mul(xv, wv)), d32, acc + i);
  }
  for (; i < n; ++i)
    acc[i] = static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + static_cast<uint32_t>(w * x[i]));
}

template <typename T>
void Widen(const T* src, int16_t sub, int16_t* dst, size_t n) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<T, decltype(d16)> d8;
  const size_t step = hn::Lanes(d16);
  const auto s = hn::Set(d16, sub);
  size_t i = 0;
  for (; i + step <= n; i += step) {
    const auto v = hn::PromoteTo(d16, hn::LoadU(d8, src + i));
    hn::StoreU(hn::Sub(hn::BitCast(d16, v), s), d16, dst + i);
  }
  for (; i < n; ++i) dst[i] = static_cast<int16_t>(src[i] - sub);
}

void WidenS8(const int8_t* src, int16_t sub, int16_t* dst, size_t n) { Widen(src, sub, dst, n); }
void WidenU8(const uint8_t* src, int16_t sub, int16_t* dst, size_t n) { Widen(src, sub, dst, n); }

}  // namespace HWY_NAMESPACE
}  // namespace tpusim::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tpusim::simd {

HWY_EXPORT(AxpyI16);
HWY_EXPORT(WidenS8);
HWY_EXPORT(WidenU8);

void axpy_i16(int32_t w, const int16_t* x, int32_t* acc, size_t n) {
  HWY_DYNAMIC_DISPATCH(AxpyI16)(w, x, acc, n);
}
void widen_s8(const int8_t* src, int16_t sub, int16_t* dst, size_t n) {
  HWY_DYNAMIC_DISPATCH(WidenS8)(src, sub, dst, n);
}
void widen_u8(const uint8_t* src, int16_t sub, int16_t* dst, size_t n) {
  HWY_DYNAMIC_DISPATCH(WidenU8)(src, sub, dst, n);
}

const char* target_name() {
  // The dispatch table picks the best bit of SupportedTargets() that was compiled.
  const int64_t chosen = hwy::SupportedTargets() & HWY_TARGETS;
  return hwy::TargetName(chosen & -chosen);
}

}  // namespace tpusim::simd
#endif
