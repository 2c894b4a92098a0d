// Explicit-SIMD inner loops of the fast instruction kernels (isa/semantics_fast.cpp), written once
// with Google Highway and compiled for every x86 target it knows (AVX-512 incl. the Ice Lake set,
// AVX2, SSE4, and a portable fallback); the best one the CPU has is chosen at run time.
//
// Integer contract: byte or int16 products, summed in int32 lanes that wrap modulo 2^32. The
// callers keep every true sum inside int32 (|x| <= 255, |w| <= 128, fewer than 2^16 terms), so the
// wrapped sum is the exact one, the same integer as the reference kernels' int64 sums.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tpusim::simd {

// c[o * ldc + p] = sum_kk a[p * k + kk] * b[o][kk] for p < rows_a, o < rows_b: every row of `a`
// (im2col patches or matmul input rows, as unsigned bytes, contiguous) against every row b[o]
// (weights, signed bytes, wherever they are: int8 weights are read in place), all k long.
// AVX-512 VNNI where the CPU has it. Exact while k < 65536 (255 * 128 * k < 2^31).
void gemm_u8s8(const uint8_t* a, size_t rows_a, const int8_t* const* b, size_t rows_b, size_t k, int32_t* c,
               size_t ldc);

// One output channel's requant tail (isa/numerics.h): out = clamp(zp + round_shift(sat32(bias +
// ((acc + correction) mod 2^32)) * m0, shift), lo, hi), 1 <= m0, 0 <= shift <= 63.
struct RequantRow {
  int32_t correction, bias, m0;
  int shift;
  int32_t zp, lo, hi;
};
// out[i] for acc[i], i < n; returns how many sums saturated to int32.
uint64_t requant_row(const int32_t* acc, size_t n, const RequantRow& r, int32_t* out);
// The same for 8-bit outputs (lo, hi within int8 or uint8): the low byte of each result.
uint64_t requant_row_u8(const int32_t* acc, size_t n, const RequantRow& r, uint8_t* out);

// Rows that are concatenations of segments: row p is base[row[p] + seg[s] + i] for s < segs,
// i < len (a channels-last conv: one segment of input channels per tap, no im2col copy).
struct SegmentedRows {
  const uint8_t* base;
  const size_t* row;
  size_t rows;
  const size_t* seg;
  size_t segs, len;
};
// gemm_u8s8 on segmented rows of a; each b[o] holds segs * len weights in the same order.
void gemm_segments_u8s8(const SegmentedRows& a, const int8_t* const* b, size_t rows_b, int32_t* c,
                        size_t ldc);

// acc[i] += w * x[i] for i < n (a conv tap along a flattened, padded stride-1 plane).
void axpy_i16(int32_t w, const int16_t* x, int32_t* acc, size_t n);

// dst[i] = src[i] - sub as int16, for 8-bit codes read as signed or unsigned bytes.
void widen_s8(const int8_t* src, int16_t sub, int16_t* dst, size_t n);
void widen_u8(const uint8_t* src, int16_t sub, int16_t* dst, size_t n);

// The Highway target chosen on this CPU, e.g. "AVX3_DL", "AVX2" (for benchmarks and logs).
const char* target_name();

}  // namespace tpusim::simd
