// Kernels of isa/simd_eltwise_lut.h, compiled once per Highway target (hwy/foreach_target.h) and
// dispatched at run time; the plain twins at the end.
//
// eltwise: int64 lanes. The rescale (v - zp) * m0 is formed as v * m0 - zp * m0 (MulEven of the
// int32 halves, then an int64 subtraction): both products are exact and the true difference fits
// int64 (|v - zp| <= 2^31 + 2^15, m0 < 2^31), so the wrapping subtraction gives it exactly even for
// int32 inputs. round_shift as (x >> s) + ((x >> (s - 1)) & 1), exact on all of int64 (x + 2^(s-1)
// could overflow here); the requant of the int32 result as in simd_requant.cpp.
//
// lut: a 256-entry byte table is 16 tables of 16 bytes, each looked up by the low nibble with a
// byte shuffle and kept where the high nibble selects it; on AVX-512 VBMI (Highway's AVX3_DL) two
// vpermi2b cover 128 entries each and bit 7 picks one. A 16-entry table is one shuffle.
#include "isa/simd_eltwise_lut.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "isa/simd_eltwise_lut.cpp"
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <type_traits>

#if HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#endif

#ifndef TPUSIM_SIMD_ELTWISE_LUT_ONCE
#define TPUSIM_SIMD_ELTWISE_LUT_ONCE
namespace tpusim::simd::detail {

inline int64_t round_shift64(int64_t x, int s) { return s > 0 ? (x >> s) + ((x >> (s - 1)) & 1) : x; }

inline int32_t sat32(int64_t v, uint64_t& overflows) {
  const int64_t s = std::clamp<int64_t>(v, INT32_MIN, INT32_MAX);
  overflows += s != v;
  return static_cast<int32_t>(s);
}

// The arithmetic of semantics_tiu.cpp's exec_eltwise for one element.
inline int32_t eltwise_one(int32_t a, int32_t b, const EltwiseRow& e, uint64_t& overflows) {
  const int32_t av = sat32(round_shift64((int64_t{a} - e.a_zp) * e.a_m0, e.a_shift), overflows);
  const int32_t bv = sat32(round_shift64((int64_t{b} - e.b_zp) * e.b_m0, e.b_shift), overflows);
  int32_t acc = std::max(av, bv);
  if (e.op == 0) acc = sat32(int64_t{av} + bv, overflows);
  if (e.op == 1) acc = sat32(int64_t{av} * bv, overflows);
  const int64_t scaled = round_shift64(int64_t{acc} * e.m0, e.shift);
  return static_cast<int32_t>(std::clamp<int64_t>(scaled + e.zp, e.lo, e.hi));
}

}  // namespace tpusim::simd::detail
#endif

HWY_BEFORE_NAMESPACE();
namespace tpusim::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR
using D64 = hn::ScalableTag<int64_t>;
using V64 = hn::Vec<D64>;
using D32 = hn::Repartition<int32_t, D64>;  // the int64 lanes as int32 pairs

// sat32(round_shift(v * m0 - zpm0, s)) of int32 values held in int64 lanes, counting saturations.
HWY_INLINE V64 rescale(V64 v, hn::Vec<D32> m0, V64 zpm0, int s, size_t& overflows) {
  const D64 d64;
  const D32 d32;
  auto x = hn::Sub(hn::MulEven(hn::BitCast(d32, v), m0), zpm0);
  if (s > 0) x = hn::Add(hn::ShiftRightSame(x, s), hn::And(hn::ShiftRightSame(x, s - 1), hn::Set(d64, 1)));
  const auto r = hn::Min(hn::Max(x, hn::Set(d64, INT32_MIN)), hn::Set(d64, INT32_MAX));
  overflows += hn::CountTrue(d64, hn::Ne(r, x));
  return r;
}

template <int Op, typename Out>
uint64_t EltwiseRowT(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& row, Out* out) {
  const EltwiseRow e = row;  // a local copy: stores through `out` cannot change it
  const D64 d64;
  const D32 d32;
  const hn::Rebind<int32_t, D64> d32h;  // one int32 per int64 lane
  const hn::Rebind<uint64_t, D64> du64;
  const hn::Rebind<std::make_unsigned_t<Out>, D64> dout;
  const size_t step = hn::Lanes(d64);
  const auto am0 = hn::BitCast(d32, hn::Set(d64, e.a_m0)), bm0 = hn::BitCast(d32, hn::Set(d64, e.b_m0));
  const auto m0 = hn::BitCast(d32, hn::Set(d64, e.m0));
  const auto azp = hn::Set(d64, int64_t{e.a_zp} * e.a_m0), bzp = hn::Set(d64, int64_t{e.b_zp} * e.b_m0);
  const auto half = hn::Set(d64, e.shift > 0 ? int64_t{1} << (e.shift - 1) : 0);
  const auto zp = hn::Set(d64, e.zp), lo = hn::Set(d64, e.lo), hi = hn::Set(d64, e.hi);
  const auto smin = hn::Set(d64, INT32_MIN), smax = hn::Set(d64, INT32_MAX);
  size_t overflows = 0, i = 0;
  for (; i + step <= n; i += step) {
    const auto av = rescale(hn::PromoteTo(d64, hn::LoadU(d32h, a + i)), am0, azp, e.a_shift, overflows);
    const auto bv = rescale(hn::PromoteTo(d64, hn::LoadU(d32h, b + i)), bm0, bzp, e.b_shift, overflows);
    auto acc = hn::Max(av, bv);
    if constexpr (Op != 2) {
      const auto v = Op == 0 ? hn::Add(av, bv) : hn::MulEven(hn::BitCast(d32, av), hn::BitCast(d32, bv));
      acc = hn::Min(hn::Max(v, smin), smax);
      overflows += hn::CountTrue(d64, hn::Ne(acc, v));
    }
    // |acc * m0| < 2^62: (x + 2^(s-1)) >> s does not overflow.
    auto x = hn::MulEven(hn::BitCast(d32, acc), m0);
    if (e.shift > 0) x = hn::ShiftRightSame(hn::Add(x, half), e.shift);
    const auto y = hn::BitCast(du64, hn::Min(hn::Max(hn::Add(x, zp), lo), hi));
    hn::StoreU(hn::TruncateTo(dout, y), dout, reinterpret_cast<std::make_unsigned_t<Out>*>(out) + i);
  }
  uint64_t total = overflows;
  for (; i < n; ++i) out[i] = static_cast<Out>(detail::eltwise_one(a[i], b[i], e, total));
  return total;
}

template <typename Out>
uint64_t EltwiseRowOut(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e, Out* out) {
  switch (e.op) {
    case 0: return EltwiseRowT<0>(a, b, n, e, out);
    case 1: return EltwiseRowT<1>(a, b, n, e, out);
    default: return EltwiseRowT<2>(a, b, n, e, out);
  }
}
#else
template <typename Out>
uint64_t EltwiseRowOut(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e, Out* out) {
  uint64_t overflows = 0;
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(detail::eltwise_one(a[i], b[i], e, overflows));
  return overflows;
}
#endif

uint64_t EltwiseRowI32(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e, int32_t* out) {
  return EltwiseRowOut(a, b, n, e, out);
}
uint64_t EltwiseRowU8(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e, uint8_t* out) {
  return EltwiseRowOut(a, b, n, e, out);
}

void LutU8(const uint8_t* x, size_t n, uint8_t flip, const uint8_t* table, size_t entries, uint8_t* out) {
  size_t i = 0;
#if HWY_TARGET == HWY_AVX3_DL
  if (entries == 256) {
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    const __m512i f = _mm512_set1_epi8(static_cast<char>(flip));
    for (; i < n; i += 64) {
      const __mmask64 m = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
      const __m512i idx = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + i), f);
      const __m512i lo = _mm512_permutex2var_epi8(t0, idx, t1), hi = _mm512_permutex2var_epi8(t2, idx, t3);
      _mm512_mask_storeu_epi8(out + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), lo, hi));
    }
    return;
  }
#endif
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<uint8_t> d8;
  const size_t step = hn::Lanes(d8);
  const auto f = hn::Set(d8, flip);
  if (entries == 16) {
    const auto t = hn::LoadDup128(d8, table);
    for (; i + step <= n; i += step)
      hn::StoreU(hn::TableLookupBytes(t, hn::Xor(hn::LoadU(d8, x + i), f)), d8, out + i);
  } else {
    using V8 = hn::Vec<decltype(d8)>;
    V8 t[16];
    for (size_t k = 0; k < 16; ++k) t[k] = hn::LoadDup128(d8, table + 16 * k);
    const auto low = hn::Set(d8, uint8_t{0x0F});
    for (; i + step <= n; i += step) {
      const auto idx = hn::Xor(hn::LoadU(d8, x + i), f);
      const auto lo = hn::And(idx, low), hi = hn::ShiftRight<4>(idx);
      auto r = hn::TableLookupBytes(t[0], lo);
      for (size_t k = 1; k < 16; ++k)
        r = hn::IfThenElse(hn::Eq(hi, hn::Set(d8, static_cast<uint8_t>(k))), hn::TableLookupBytes(t[k], lo),
                           r);
      hn::StoreU(r, d8, out + i);
    }
  }
#endif
  for (; i < n; ++i) out[i] = table[static_cast<uint8_t>(x[i] ^ flip) % entries];
}

}  // namespace HWY_NAMESPACE
}  // namespace tpusim::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tpusim::simd {

HWY_EXPORT(EltwiseRowI32);
HWY_EXPORT(EltwiseRowU8);
HWY_EXPORT(LutU8);

uint64_t eltwise_row(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e, int32_t* out) {
  return HWY_DYNAMIC_DISPATCH(EltwiseRowI32)(a, b, n, e, out);
}
uint64_t eltwise_row_u8(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e, uint8_t* out) {
  return HWY_DYNAMIC_DISPATCH(EltwiseRowU8)(a, b, n, e, out);
}
uint64_t eltwise_row_reference(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e,
                               int32_t* out) {
  uint64_t overflows = 0;
  for (size_t i = 0; i < n; ++i) out[i] = detail::eltwise_one(a[i], b[i], e, overflows);
  return overflows;
}

void lut_u8(const uint8_t* x, size_t n, uint8_t flip, const uint8_t* table, size_t entries, uint8_t* out) {
  HWY_DYNAMIC_DISPATCH(LutU8)(x, n, flip, table, entries, out);
}
void lut_u8_reference(const uint8_t* x, size_t n, uint8_t flip, const uint8_t* table, size_t entries,
                      uint8_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = table[static_cast<uint8_t>(x[i] ^ flip) % entries];
}

}  // namespace tpusim::simd
#endif
