// Quantization math shared by the compiler, the host-side input quantization and the QAT
// toolchain: a float scale as the requant unit's (M0, shift) pair, and ONNX's QuantizeLinear /
// DequantizeLinear formulas. The machine's own arithmetic (requant, rounding shift, packing) is in
// isa/numerics.h.
#pragma once
#include <cstdint>

#include "isa/dtype.h"
#include "isa/numerics.h"

namespace tpusim {

// Float scale -> (M0, shift). Throws tpusim::Error for a scale that is not finite, <= 0, or
// >= 2^31 (not representable with shift >= 0), or so small that M0 would round to 0.
// rel_error = |M0 * 2^-shift - scale| / scale, computed in long double.
struct QuantMultiplier {
  int32_t m0;
  int shift;
  double rel_error;
};
QuantMultiplier quantize_multiplier(double scale);

// Value represented by (m0, shift).
long double multiplier_value(int32_t m0, int shift);

// ONNX QuantizeLinear: saturate(round_half_to_even(x / scale) + zp) into the type's range.
// NaN maps to the (saturated) zero point: a defined result where ONNX leaves it unspecified.
int32_t quantize_linear(float x, float scale, int32_t zp, DType t);
// ONNX DequantizeLinear: (q - zp) * scale in float.
float dequantize_linear(int32_t q, float scale, int32_t zp);

}  // namespace tpusim
