#include "quant/quantize.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace tpusim {

QuantMultiplier quantize_multiplier(double scale) {
  if (!std::isfinite(scale) || scale <= 0)
    throw Error(fmt::format("requant scale {} must be finite and > 0", scale));
  if (scale >= 2147483648.0)
    throw Error(fmt::format("requant scale {} is too large (must be < 2^31)", scale));
  // scale = frac * 2^exp with frac in [0.5, 1): M0 = frac * 2^31, shift = 31 - exp.
  int exp = 0;
  const long double frac = std::frexp(static_cast<long double>(scale), &exp);
  int shift = 31 - exp;
  long double m = std::round(frac * 2147483648.0L);
  if (m >= 2147483648.0L) {  // frac rounded up to 1.0: renormalise
    m /= 2;
    --shift;
    // Only for scale in [2^31 - 0.5, 2^31): M0 = 2^31 - 1 at shift 0 is the nearest representable
    // value, still within 2^-31 relative.
    if (shift < 0) {
      m = kM0Max;
      shift = 0;
    }
  }
  if (shift > kMaxShift) {  // too small for a normalised M0: give up precision, keep shift 63
    m = std::round(std::ldexp(static_cast<long double>(scale), kMaxShift));
    shift = kMaxShift;
    if (m < 1) throw Error(fmt::format("requant scale {} is too small (underflows M0 * 2^-63)", scale));
  }
  QuantMultiplier q{static_cast<int32_t>(m), shift, 0.0};
  q.rel_error = static_cast<double>(std::fabs(multiplier_value(q.m0, q.shift) - scale) / scale);
  return q;
}

long double multiplier_value(int32_t m0, int shift) {
  return std::ldexp(static_cast<long double>(m0), -shift);
}

int32_t quantize_linear(float x, float scale, int32_t zp, DType t) {
  // The quotient in float, as the ONNX reference and onnxruntime compute it (bit-exact with them);
  // nearbyint rounds half to even in the default floating-point environment, as ONNX requires.
  const float r = std::nearbyint(x / scale);
  if (std::isnan(r)) return saturate(zp, t);  // NaN input (or 0/0): never cast a NaN to an integer
  const double q = static_cast<double>(r) + zp;
  const DTypeTraits& tr = traits(t);
  return static_cast<int32_t>(std::clamp(q, static_cast<double>(tr.qmin), static_cast<double>(tr.qmax)));
}

float dequantize_linear(int32_t q, float scale, int32_t zp) {
  return static_cast<float>(static_cast<int64_t>(q) - zp) * scale;
}

}  // namespace tpusim
