// simd::requant_row (isa/simd_kernels.h): the output tail of conv2d, matmul and pool over a row of
// int32 accumulators, in int64 lanes: (acc + correction) mod 2^32, + bias, saturation to int32
// (counted), * M0 (MulEven of the low int32 halves: an exact 62-bit product), round_shift as
// (x + 2^(s-1)) >> s, + zp, clamp. The same integers as isa/numerics.cpp's requant.
#include "isa/simd_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "isa/simd_requant.cpp"
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <type_traits>

HWY_BEFORE_NAMESPACE();
namespace tpusim::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

int32_t requant_one(int32_t acc, const RequantRow& r, uint64_t& overflows) {
  const auto centred = static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(r.correction));
  const int64_t v = int64_t{r.bias} + centred;
  const int64_t s = std::clamp<int64_t>(v, INT32_MIN, INT32_MAX);
  overflows += s != v;
  const int64_t x = s * r.m0;
  const int64_t scaled = r.shift > 0 ? (x >> r.shift) + ((x >> (r.shift - 1)) & 1) : x;
  return static_cast<int32_t>(std::clamp<int64_t>(scaled + r.zp, r.lo, r.hi));
}

// Out = int32_t, or uint8_t for 8-bit outputs (the low byte of each result, stored directly).
template <typename Out>
uint64_t RequantRowT(const int32_t* acc, size_t n, const RequantRow& row, Out* out) {
  const RequantRow r = row;  // a local copy: stores through `out` cannot change it, so it stays in registers
  uint64_t overflows = 0;
  size_t i = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<int64_t> d64;
  const hn::Rebind<int32_t, decltype(d64)> d32h;      // one int32 per int64 lane
  const hn::Repartition<int32_t, decltype(d64)> d32;  // the int64 lanes as int32 pairs
  const hn::Rebind<uint64_t, decltype(d64)> du64;
  const hn::Rebind<std::make_unsigned_t<Out>, decltype(d64)> dout;
  const size_t step = hn::Lanes(d64);
  const auto corr = hn::Set(d32h, r.correction);
  const auto bias = hn::Set(d64, r.bias);
  const auto smin = hn::Set(d64, INT32_MIN), smax = hn::Set(d64, INT32_MAX);
  const auto m0 = hn::BitCast(d32, hn::Set(d64, r.m0));
  const auto half = hn::Set(d64, r.shift > 0 ? int64_t{1} << (r.shift - 1) : 0);
  const auto zp = hn::Set(d64, r.zp), lo = hn::Set(d64, r.lo), hi = hn::Set(d64, r.hi);
  for (; i + step <= n; i += step) {
    const auto c = hn::Add(hn::LoadU(d32h, acc + i), corr);  // int32 lanes wrap, as the scalar tail
    const auto v = hn::Add(hn::PromoteTo(d64, c), bias);
    const auto s = hn::Min(hn::Max(v, smin), smax);
    overflows += hn::CountTrue(d64, hn::Ne(s, v));
    const auto x = hn::MulEven(hn::BitCast(d32, s), m0);  // low halves: s and m0 as int32
    auto scaled = x;
    // round_shift as (x + 2^(s-1)) >> s: the same floor as (x >> s) + bit s-1 of x, and no overflow
    // (|x| < 2^62, so x + 2^62 < 2^63).
    if (r.shift > 0) scaled = hn::ShiftRightSame(hn::Add(x, half), r.shift);
    // Clamped into [lo, hi]: the low int32 halves (or bytes, for 8-bit outputs) are the results.
    const auto y = hn::BitCast(du64, hn::Min(hn::Max(hn::Add(scaled, zp), lo), hi));
    hn::StoreU(hn::TruncateTo(dout, y), dout, reinterpret_cast<std::make_unsigned_t<Out>*>(out) + i);
  }
#endif
  for (; i < n; ++i) out[i] = static_cast<Out>(requant_one(acc[i], r, overflows));
  return overflows;
}

uint64_t RequantRowImpl(const int32_t* acc, size_t n, const RequantRow& row, int32_t* out) {
  return RequantRowT(acc, n, row, out);
}
uint64_t RequantRowU8Impl(const int32_t* acc, size_t n, const RequantRow& row, uint8_t* out) {
  return RequantRowT(acc, n, row, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace tpusim::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tpusim::simd {

HWY_EXPORT(RequantRowImpl);
HWY_EXPORT(RequantRowU8Impl);

uint64_t requant_row_u8(const int32_t* acc, size_t n, const RequantRow& r, uint8_t* out) {
  return HWY_DYNAMIC_DISPATCH(RequantRowU8Impl)(acc, n, r, out);
}

uint64_t requant_row(const int32_t* acc, size_t n, const RequantRow& r, int32_t* out) {
  return HWY_DYNAMIC_DISPATCH(RequantRowImpl)(acc, n, r, out);
}

}  // namespace tpusim::simd
#endif
