// Pieces of the fast kernels (semantics_fast.cpp): operand unpacking into int16 and the output
// tail (bias, int32 saturation, requant, store), the same arithmetic as the reference kernels'
// saturate_acc + Requantizer::apply + store_elem, inlined over a row of accumulators.
#pragma once
#include <algorithm>
#include <cstdint>

#include "isa/numerics.h"
#include "isa/semantics_internal.h"
#include "isa/simd_kernels.h"

namespace tpusim::sem {

// The shape of one (n, group) of a conv over its padded input planes [icg][ph][pw].
struct ConvShape {
  int64_t icg, kh, kw, ph, pw, oh, ow, sh, sw, dh, dw;
  int64_t taps() const { return icg * kh * kw; }
  int64_t plane() const { return ph * pw; }
};

// Reductions up to this many terms are exact in int32 (|x + off| <= 255, |w| <= 128).
constexpr int64_t kMaxExactTerms = (int64_t{1} << 31) / (int64_t{1} << 15) - 1;

// The direct conv path (semantics_fast_conv_quads.cpp): false, with nothing written, where it does
// not apply (Highway's scalar target, reductions too long, outputs too few for 16-wide position
// vectors).
bool try_conv2d_quads(const Instr& in, const MemView& m, ExecCounters& counters);

// The gemm of one conv group by channels-last segments (semantics_fast_conv_nhwc.cpp; stride-1
// dilation along x): x8 = the group's padded offset-byte planes [icg][ph][pw], w = its ocg weight
// rows [icg][kh][kw]; acc[o * ld + p] for the oh * ow outputs and acc[o * ld + oh * ow] = sum(w[o]).
void conv_group_nhwc(const ConvShape& g, const uint8_t* x8, const int8_t* const* w, int64_t ocg, int32_t* acc,
                     int64_t ld);

// dst[i] = element (index + i) of the plane's memory - sub, for i < n: 8-bit codes through the
// SIMD widening, 4-bit ones nibble by nibble.
inline void unpack_row(const uint8_t* base, uint64_t index, DType t, int32_t sub, int16_t* dst, uint64_t n) {
  const auto s = static_cast<int16_t>(sub);
  switch (t) {
    case DType::Int8: simd::widen_s8(reinterpret_cast<const int8_t*>(base + index), s, dst, n); return;
    case DType::UInt8: simd::widen_u8(base + index, s, dst, n); return;
    case DType::Int4:
    case DType::UInt4: {
      const bool sgn = t == DType::Int4;
      uint64_t i = 0, e = index;
      if (e % 2 == 1 && i < n) dst[i++] = static_cast<int16_t>(unpack_nibble(base[e++ / 2], 1, sgn) - sub);
      for (; i + 2 <= n; i += 2, e += 2) {
        const uint8_t b = base[e / 2];
        dst[i] = static_cast<int16_t>(unpack_nibble(b, 0, sgn) - sub);
        dst[i + 1] = static_cast<int16_t>(unpack_nibble(b, 1, sgn) - sub);
      }
      if (i < n) dst[i] = static_cast<int16_t>(unpack_nibble(base[e / 2], 0, sgn) - sub);
      return;
    }
    case DType::Int32:
      for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<int16_t>(load_elem(base, index + i, t) - sub);
      return;
  }
}

// dst[i] = element (index + i) + off as a byte, off = -qmin of the 8- or 4-bit type (so every code
// maps into 0..255): the unsigned operand of simd::gemm_u8s8.
inline void unpack_row_u8(const uint8_t* base, uint64_t index, DType t, uint8_t* dst, uint64_t n) {
  switch (t) {
    case DType::UInt8: std::copy(base + index, base + index + n, dst); return;
    case DType::Int8:
      for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(base[index + i] ^ 0x80);  // x + 128
      return;
    default: {
      const int32_t off = -traits(t).qmin;
      for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(load_elem(base, index + i, t) + off);
    }
  }
}

// Weight codes (int8 or int4) as signed bytes. Int4 two per byte, low nibble first, sign-extended
// by a shift pair (a W4A4 matmul unpacked its weights through load_elem, one call per code: 80% of
// a W4A4 LeNet eval).
inline void unpack_row_s8(const uint8_t* base, uint64_t index, DType t, int8_t* dst, uint64_t n) {
  if (t == DType::Int8) {
    std::copy(base + index, base + index + n, reinterpret_cast<uint8_t*>(dst));
    return;
  }
  if (t != DType::Int4) {
    for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<int8_t>(load_elem(base, index + i, t));
    return;
  }
  const auto lo = [](uint8_t b) { return static_cast<int8_t>(static_cast<int8_t>(b << 4) >> 4); };
  const auto hi = [](uint8_t b) { return static_cast<int8_t>(static_cast<int8_t>(b) >> 4); };
  uint64_t i = 0, e = index;
  if (e % 2 == 1 && i < n) dst[i++] = hi(base[e++ / 2]);
  const uint8_t* p = base + e / 2;
  for (; i + 2 <= n; i += 2, ++p) dst[i] = lo(*p), dst[i + 1] = hi(*p);
  if (i < n) dst[i] = lo(*p);
}

// One output channel's requant tail, read once per row (simd::requant_row computes it). Its
// `correction` is added to every accumulator modulo 2^32 first: -(in_zp + off) * sum(w) turns the
// offset-input product of gemm_u8s8 into the centred one (exact: the true sum fits int32).
struct OutputTail : simd::RequantRow {
  OutputTail(const Requantizer& rq, const std::vector<int32_t>& bias_table, uint64_t channel)
      : simd::RequantRow{0,
                         bias_table[channel],
                         rq.m0[rq.per_channel ? channel : 0],
                         rq.shift[rq.per_channel ? channel : 0],
                         rq.zp,
                         rq.lo,
                         rq.hi} {}
};

// The tail of channel o with the input offset of the u8 x s8 kernels removed: the correction
// -(in_zp + off) * sum(w) (pad_code = in_zp + off, wsum = the sum of the row's weights).
inline OutputTail offset_tail(const Requantizer& rq, const std::vector<int32_t>& bias, int64_t o,
                              int32_t pad_code, int32_t wsum) {
  OutputTail t(rq, bias, static_cast<uint64_t>(o));
  t.correction = static_cast<int32_t>(0u - static_cast<uint32_t>(pad_code) * static_cast<uint32_t>(wsum));
  return t;
}

// Stores tail(acc[i]) at element index + i of the plane, i < n.
inline void store_row(uint8_t* base, uint64_t index, DType t, const int32_t* acc, uint64_t n,
                      const OutputTail& tail, ExecCounters& counters) {
  if (t == DType::Int8 || t == DType::UInt8) {  // bytes straight from the requant
    counters.acc_overflows += simd::requant_row_u8(acc, n, tail, base + index);
    return;
  }
  thread_local std::vector<int32_t> y;
  y.resize(n);
  counters.acc_overflows += simd::requant_row(acc, n, tail, y.data());
  if (t == DType::Int4 || t == DType::UInt4) {  // whole bytes of two codes, low nibble first
    uint64_t i = 0, e = index;
    if (e % 2 == 1 && i < n) store_elem(base, e++, t, y[i++]);
    uint8_t* p = base + e / 2;
    for (; i + 2 <= n; i += 2, ++p) *p = static_cast<uint8_t>((y[i] & 0xF) | ((y[i + 1] & 0xF) << 4));
    if (i < n) store_elem(base, index + i, t, y[i]);
    return;
  }
  for (uint64_t i = 0; i < n; ++i) store_elem(base, index + i, t, y[i]);
}

}  // namespace tpusim::sem
