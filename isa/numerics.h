// The machine's integer arithmetic, implemented once and used by the instruction semantics, the
// compiler's integer reference and the QAT fake-quant. How a float scale becomes (M0, shift) and
// the ONNX quantize/dequantize formulas are quantization math, not machine semantics:
// quant/quantize.h.
//
// Requant:   y = clamp(zp + round_shift(acc * M0, shift), lo, hi)
//   acc   int32 accumulator (or any int32 intermediate);
//   M0    positive multiplier, 1 <= M0 < 2^31 (normalised ones lie in [2^30, 2^31));
//   shift right shift, 0..63;
//   round_shift(x, s) = floor((x + 2^(s-1)) / 2^s) for s > 0, x for s = 0:
//   a single rounding, half toward +infinity ("round half up"), which is what an adder in front
//   of an arithmetic right shift gives in hardware. The product acc*M0 is exact in int64
//   (|acc| <= 2^31, M0 < 2^31), so no intermediate rounding or saturation happens before it.
//   The zero point is added and the result clamped in int64, so nothing wraps.
// A real scale s > 0 is represented as M0 * 2^-shift by quant/quantize.h's quantize_multiplier().
#pragma once
#include <cstdint>

#include "isa/dtype.h"

namespace tpusim {

inline constexpr int kMaxShift = 63;
inline constexpr int32_t kM0Max = INT32_MAX;     // 2^31 - 1
inline constexpr int32_t kM0Identity = 1 << 30;  // with shift 30 represents exactly 1.0
inline constexpr int kShiftIdentity = 30;

// floor((x + 2^(shift-1)) / 2^shift); shift in [0, 63]; exact for every int64 x.
int64_t round_shift(int64_t x, int shift);

// Saturate to the int32 range.
int32_t sat_int32(int64_t v);
// Saturate to the range of an element type.
int32_t saturate(int64_t v, DType t);

// The requant of the header comment. lo <= hi are the clamp bounds (already inside the output
// type's range; ReLU/ReLU6 are expressed through them).
int32_t requant(int32_t acc, int32_t m0, int shift, int32_t zp, int32_t lo, int32_t hi);

// num / den rounded to nearest, ties away from zero (den > 0). Used by average pooling.
int64_t rounding_div(int64_t num, int64_t den);
// num / den rounded half up, toward +inf, like the requant's round_shift: floor((2 num + den) /
// 2 den) (den > 0, |num| < 2^61). Used by softmax and layernorm.
int64_t div_round_half_up(int64_t num, int64_t den);
// floor(sqrt(v)), exact; 0 for v <= 0. Used by layernorm.
int64_t isqrt(int64_t v);

// Packed element access in a byte array: element `index` of type t stored at base + index*bits/8;
// 4-bit elements pack two per byte, low nibble first; signed types sign-extend on load, and
// store() writes the low bits of v (callers saturate first). Multi-byte types are little-endian.
int32_t load_elem(const uint8_t* base, uint64_t index, DType t);
void store_elem(uint8_t* base, uint64_t index, DType t, int32_t v);

// Two int4/uint4 values into one byte (lo in bits 0..3) and back.
uint8_t pack_nibbles(int32_t lo, int32_t hi);
int32_t unpack_nibble(uint8_t byte, int which, bool is_signed);

}  // namespace tpusim
