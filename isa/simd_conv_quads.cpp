// simd::conv_quads_u8s8 (isa/simd_conv_quads.h) and its reference twin, compiled once per Highway
// target (hwy/foreach_target.h) and dispatched at run time:
// - AVX3_DL on a CPU with avx512vnni: a block of 4 channels x P vectors of 16 positions in 4P zmm
//   accumulators (P <= 6: 24 registers); per reduction step P input loads, each channel's 4 weight
//   bytes broadcast, 4P vpdpbusd (no saturation: sums wrap modulo 2^32, as the contract says).
//   Intrinsics: Highway 1.0 has no u8 x s8 quad dot product.
// - every other SIMD target (AVX-512 without VNNI, AVX2, SSE4, SSSE3): the same blocking through
//   int16 multiply-adds. A position's quad (bytes b0..b3, one int32 lane) is split into its even
//   bytes (b0, b2) and odd bytes (b1, b3) as int16 pairs, each multiplied by the matching weight
//   pair and summed pairwise into the lane (ReorderWidenMulAccumulate: pmaddwd on x86). Products
//   |b * w| <= 255 * 128 never saturate the pairwise sum.
// - Highway's scalar target: the plain loops.
#include "isa/simd_conv_quads.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "isa/simd_conv_quads.cpp"
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstring>
#include <vector>

#if HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace tpusim::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX3_DL
#define TPUSIM_VNNI __attribute__((target(HWY_TARGET_STR ",avx512vnni")))

// Channels o0..o0+3 (weights wb: [k4][4][4]) at the P vectors of positions from q0.
template <size_t P>
TPUSIM_VNNI void block4_vnni(const QuadConv& a, const int8_t* wb, size_t q0, int32_t* out) {
  __m512i s[4][P];
  for (auto& row : s)
    for (auto& v : row) v = _mm512_setzero_si512();
  for (size_t k = 0; k < a.k4; ++k) {
    const uint8_t* xp = a.x + a.koff[k] + 4 * q0;
    __m512i xv[P];
    for (size_t p = 0; p < P; ++p) xv[p] = _mm512_loadu_si512(xp + 64 * p);
    for (size_t j = 0; j < 4; ++j) {
      int32_t w4;
      std::memcpy(&w4, wb + k * 16 + j * 4, 4);
      const __m512i wv = _mm512_set1_epi32(w4);
      for (size_t p = 0; p < P; ++p) s[j][p] = _mm512_dpbusd_epi32(s[j][p], xv[p], wv);
    }
  }
  for (size_t j = 0; j < 4; ++j)
    for (size_t p = 0; p < P; ++p) _mm512_storeu_si512(out + j * a.ldc + q0 + 16 * p, s[j][p]);
}

// Every channel block at the P vectors from q0: the input those vectors read stays in L1 while
// the weights of all channels pass over it (for short reductions both fit).
template <size_t P>
TPUSIM_VNNI void all_channels_vnni(const QuadConv& a, size_t q0) {
  for (size_t o = 0; o < a.channels; o += 4)
    block4_vnni<P>(a, a.w + (o / 4) * a.k4 * 16, q0, a.acc + o * a.ldc);
}

TPUSIM_VNNI void conv_vnni(const QuadConv& a) {
  const size_t vectors = (a.positions + 15) / 16;
  size_t v = 0;
  for (; v + 6 <= vectors; v += 6) all_channels_vnni<6>(a, 16 * v);
  switch (vectors - v) {
    case 5: all_channels_vnni<5>(a, 16 * v); break;
    case 4: all_channels_vnni<4>(a, 16 * v); break;
    case 3: all_channels_vnni<3>(a, 16 * v); break;
    case 2: all_channels_vnni<2>(a, 16 * v); break;
    case 1: all_channels_vnni<1>(a, 16 * v); break;
    default: break;
  }
}
#undef TPUSIM_VNNI

static bool have_vnni() {  // static: simd_gemm_u8s8.cpp has its own
  static const bool ok = __builtin_cpu_supports("avx512vnni");
  return ok;
}
#endif

#if HWY_TARGET != HWY_SCALAR
using D32 = hn::ScalableTag<int32_t>;
using D16 = hn::Repartition<int16_t, D32>;

// Channels o0..o0+3 at the P vectors of positions from q0; wp: [k4][4 channels][even, odd] weight
// pairs, each two int16 in an int32 (w0 | w2 << 16, w1 | w3 << 16).
template <size_t P>
void block4_madd(const QuadConv& a, const int32_t* wp, size_t q0, int32_t* out) {
  const D32 d32;
  const D16 d16;
  const hn::Repartition<uint16_t, D32> du16;
  const hn::Repartition<uint8_t, D32> du8;
  const size_t lanes = hn::Lanes(d32);
  using V32 = hn::Vec<D32>;
  using V16 = hn::Vec<D16>;
  V32 s[4][P], t[4][P];  // t: the second sum of ReorderWidenMulAccumulate (unused on x86)
  for (size_t j = 0; j < 4; ++j)
    for (size_t p = 0; p < P; ++p) s[j][p] = hn::Zero(d32), t[j][p] = hn::Zero(d32);
  const auto low = hn::Set(du16, uint16_t{0x00FF});
  for (size_t k = 0; k < a.k4; ++k) {
    const uint8_t* xp = a.x + a.koff[k] + 4 * q0;
    V16 ev[P], od[P];
    for (size_t p = 0; p < P; ++p) {
      const auto raw = hn::BitCast(du16, hn::LoadU(du8, xp + 4 * lanes * p));
      ev[p] = hn::BitCast(d16, hn::And(raw, low));
      od[p] = hn::BitCast(d16, hn::ShiftRight<8>(raw));
    }
    for (size_t j = 0; j < 4; ++j) {
      const V16 we = hn::BitCast(d16, hn::Set(d32, wp[(k * 4 + j) * 2]));
      const V16 wo = hn::BitCast(d16, hn::Set(d32, wp[(k * 4 + j) * 2 + 1]));
      for (size_t p = 0; p < P; ++p) {
        s[j][p] = hn::ReorderWidenMulAccumulate(d32, ev[p], we, s[j][p], t[j][p]);
        s[j][p] = hn::ReorderWidenMulAccumulate(d32, od[p], wo, s[j][p], t[j][p]);
      }
    }
  }
  for (size_t j = 0; j < 4; ++j)
    for (size_t p = 0; p < P; ++p)
      hn::StoreU(hn::RearrangeToOddPlusEven(s[j][p], t[j][p]), d32, out + j * a.ldc + q0 + lanes * p);
}

// Registers: 4P sums and 2P input halves (AVX-512: 32 registers, elsewhere 16).
constexpr size_t kBlock = HWY_MAX_BYTES >= 64 ? 4 : 2;

void conv_madd(const QuadConv& a) {
  thread_local std::vector<int32_t> pairs;
  pairs.resize(a.channels * a.k4 * 2);
  for (size_t i = 0; i < a.channels * a.k4; ++i) {  // i = (block * k4 + k) * 4 + j, the order of a.w
    const int8_t* w = a.w + 4 * i;
    const auto pair = [](int8_t lo, int8_t hi) {
      return static_cast<int32_t>(uint32_t{static_cast<uint16_t>(lo)} | uint32_t{static_cast<uint16_t>(hi)}
                                                                            << 16);
    };
    pairs[2 * i] = pair(w[0], w[2]), pairs[2 * i + 1] = pair(w[1], w[3]);
  }
  const size_t lanes = hn::Lanes(D32()), vectors = (a.positions + 15) / 16 * 16 / lanes;
  size_t v = 0;
  for (; v + kBlock <= vectors; v += kBlock)
    for (size_t o = 0; o < a.channels; o += 4)
      block4_madd<kBlock>(a, pairs.data() + (o / 4) * a.k4 * 8, lanes * v, a.acc + o * a.ldc);
  for (; v < vectors; ++v)
    for (size_t o = 0; o < a.channels; o += 4)
      block4_madd<1>(a, pairs.data() + (o / 4) * a.k4 * 8, lanes * v, a.acc + o * a.ldc);
}
#endif

bool ConvQuadsSimd() { return HWY_TARGET != HWY_SCALAR; }

void ConvQuads(const QuadConv& a) {
#if HWY_TARGET == HWY_AVX3_DL
  if (have_vnni()) return conv_vnni(a);
#endif
#if HWY_TARGET != HWY_SCALAR
  conv_madd(a);
#else
  conv_quads_u8s8_reference(a);
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace tpusim::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tpusim::simd {

void conv_quads_u8s8_reference(const QuadConv& a) {
  const size_t vq = (a.positions + 15) / 16 * 16;
  for (size_t o = 0; o < a.channels; ++o) {
    const int8_t* w = a.w + (o / 4) * a.k4 * 16 + (o % 4) * 4;
    for (size_t q = 0; q < vq; ++q) {
      uint32_t s = 0;  // wraps like the int32 lanes
      for (size_t k = 0; k < a.k4; ++k)
        for (size_t j = 0; j < 4; ++j)
          s += static_cast<uint32_t>(int32_t{a.x[a.koff[k] + 4 * q + j]} * w[k * 16 + j]);
      a.acc[o * a.ldc + q] = static_cast<int32_t>(s);
    }
  }
}

HWY_EXPORT(ConvQuads);
HWY_EXPORT(ConvQuadsSimd);

void conv_quads_u8s8(const QuadConv& a) { HWY_DYNAMIC_DISPATCH(ConvQuads)(a); }

// Through the dispatch table, not hwy::SupportedTargets(): that runs CPUID on every call, 44 us
// under this host's hypervisor (twice per LeNet image: 40% of an eval).
bool conv_quads_simd() { return HWY_DYNAMIC_DISPATCH(ConvQuadsSimd)(); }

}  // namespace tpusim::simd
#endif
