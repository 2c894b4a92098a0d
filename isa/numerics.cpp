#include "isa/numerics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "isa/error.h"

namespace tpusim {

int64_t round_shift(int64_t x, int shift) {
  if (shift <= 0) return x;
  // floor(x / 2^s) plus the bit just below the cut: equals floor((x + 2^(s-1)) / 2^s) without
  // forming x + 2^(s-1), so it is exact for every int64 x. (Arithmetic right shift of a
  // two's-complement int64 is floor division in C++20.)
  return (x >> shift) + ((x >> (shift - 1)) & 1);
}

int32_t sat_int32(int64_t v) { return static_cast<int32_t>(std::clamp<int64_t>(v, INT32_MIN, INT32_MAX)); }

int32_t saturate(int64_t v, DType t) {
  const DTypeTraits& tr = traits(t);
  return static_cast<int32_t>(std::clamp<int64_t>(v, tr.qmin, tr.qmax));
}

int32_t requant(int32_t acc, int32_t m0, int shift, int32_t zp, int32_t lo, int32_t hi) {
  const int64_t scaled = round_shift(int64_t{acc} * m0, shift);
  return static_cast<int32_t>(std::clamp<int64_t>(scaled + zp, lo, hi));
}

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

int64_t rounding_div(int64_t num, int64_t den) {
  const int64_t q = num / den, r = num % den;  // truncates toward zero
  const int64_t abs_r = r < 0 ? -r : r;
  if (abs_r >= den - abs_r) return num < 0 ? q - 1 : q + 1;  // 2*|r| >= den without overflow
  return q;
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

int32_t load_elem(const uint8_t* base, uint64_t index, DType t) {
  switch (t) {
    case DType::Int8: return static_cast<int8_t>(base[index]);
    case DType::UInt8: return base[index];
    case DType::Int4:
    case DType::UInt4: return unpack_nibble(base[index / 2], static_cast<int>(index % 2), t == DType::Int4);
    case DType::Int32: {
      const uint8_t* p = base + index * 4;
      return static_cast<int32_t>(uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                                  uint32_t{p[3]} << 24);
    }
  }
  return 0;
}

void store_elem(uint8_t* base, uint64_t index, DType t, int32_t v) {
  switch (t) {
    case DType::Int8:
    case DType::UInt8: base[index] = static_cast<uint8_t>(v); return;
    case DType::Int4:
    case DType::UInt4: {
      uint8_t& b = base[index / 2];
      const int sh = static_cast<int>(index % 2) * 4;
      b = static_cast<uint8_t>((b & ~(0xF << sh)) | ((v & 0xF) << sh));
      return;
    }
    case DType::Int32: {
      const auto u = static_cast<uint32_t>(v);
      for (int i = 0; i < 4; ++i) base[index * 4 + i] = static_cast<uint8_t>(u >> (8 * i));
      return;
    }
  }
}

uint8_t pack_nibbles(int32_t lo, int32_t hi) { return static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4)); }

int32_t unpack_nibble(uint8_t byte, int which, bool is_signed) {
  const int32_t v = (byte >> (which * 4)) & 0xF;
  return is_signed && v >= 8 ? v - 16 : v;
}

}  // namespace tpusim
