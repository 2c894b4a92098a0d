// simd::conv_quads_u8s8 (isa/simd_conv_quads.h) and its reference twin. The VNNI kernel keeps a
// block of 4 channels x P vectors of 16 positions in 4P zmm accumulators (P <= 6: 24 registers),
// and per reduction step loads P input vectors, broadcasts each channel's 4 weight bytes and issues
// 4P vpdpbusd (no saturation: sums wrap modulo 2^32, as the contract says). Written with
// intrinsics under a target attribute (Highway 1.0 has no u8 x s8 quad dot product), chosen at run
// time by the CPU's avx512vnni flag.
#include "isa/simd_conv_quads.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

#if defined(__x86_64__)
namespace {

#define TPUSIM_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

// Channels o0..o0+3 (weights wb: [k4][4][4]) at the P vectors of positions from q0.
template <size_t P>
TPUSIM_VNNI void block4(const QuadConv& a, const int8_t* wb, size_t q0, int32_t* out) {
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
TPUSIM_VNNI void all_channels(const QuadConv& a, size_t q0) {
  for (size_t o = 0; o < a.channels; o += 4) block4<P>(a, a.w + (o / 4) * a.k4 * 16, q0, a.acc + o * a.ldc);
}

TPUSIM_VNNI void conv_quads_vnni_impl(const QuadConv& a) {
  const size_t vectors = (a.positions + 15) / 16;
  size_t v = 0;
  for (; v + 6 <= vectors; v += 6) all_channels<6>(a, 16 * v);
  switch (vectors - v) {
    case 5: all_channels<5>(a, 16 * v); break;
    case 4: all_channels<4>(a, 16 * v); break;
    case 3: all_channels<3>(a, 16 * v); break;
    case 2: all_channels<2>(a, 16 * v); break;
    case 1: all_channels<1>(a, 16 * v); break;
    default: break;
  }
}

}  // namespace

bool conv_quads_vnni() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vnni");
  return ok;
}

void conv_quads_u8s8(const QuadConv& a) {
  if (conv_quads_vnni())
    conv_quads_vnni_impl(a);
  else
    conv_quads_u8s8_reference(a);
}
#else
bool conv_quads_vnni() { return false; }
void conv_quads_u8s8(const QuadConv& a) { conv_quads_u8s8_reference(a); }
#endif

}  // namespace tpusim::simd
