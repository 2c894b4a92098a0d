// Highway kernels of the eltwise and lut fast twins (isa/semantics_fast_eltwise_lut.cpp), each with
// a plain twin: the kernel tests compare the two on every Highway target this CPU supports, and
// the instruction tests compare exec_*_fast with the reference kernels of semantics_tiu.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tpusim::simd {

// One eltwise instruction's arithmetic on a row of one channel (isa/semantics.h, semantics_tiu.cpp):
// a' = sat32(round_shift((a - a_zp) * a_m0, a_shift)), b' likewise, acc = sat32(a' + b') (add),
// sat32(a' * b') (mul) or max(a', b'), out = clamp(zp + round_shift(acc * m0, shift), lo, hi).
// Every saturation (of a', b', the add or the mul) counts one overflow. Inputs are any int32 (an
// int32 operand's codes, or 8/4-bit codes widened); 1 <= m0s < 2^31, 0 <= shifts <= 63.
struct EltwiseRow {
  int op;  // EltOp: 0 add, 1 mul, 2 max
  int32_t a_zp, a_m0;
  int a_shift;
  int32_t b_zp, b_m0;
  int b_shift;
  int32_t m0;
  int shift;
  int32_t zp, lo, hi;
};

// out[i] for i < n; returns the overflows counted.
uint64_t eltwise_row(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e, int32_t* out);
// The same for 8-bit outputs: the low byte of each result.
uint64_t eltwise_row_u8(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e, uint8_t* out);
// The plain loop (the twin of both).
uint64_t eltwise_row_reference(const int32_t* a, const int32_t* b, size_t n, const EltwiseRow& e,
                               int32_t* out);

// out[i] = table[(x[i] ^ flip) % entries] for i < n, entries 16 or 256 (a lut plane: x the input
// codes as bytes, flip = the code-to-entry offset as a xor, 0x80 for int8; table the low bytes of
// the entries). out may equal x (in place); otherwise they must not overlap.
void lut_u8(const uint8_t* x, size_t n, uint8_t flip, const uint8_t* table, size_t entries, uint8_t* out);
void lut_u8_reference(const uint8_t* x, size_t n, uint8_t flip, const uint8_t* table, size_t entries,
                      uint8_t* out);

}  // namespace tpusim::simd
