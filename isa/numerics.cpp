#include "isa/numerics.h"

#include <algorithm>

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

int64_t rounding_div(int64_t num, int64_t den) {
  const int64_t q = num / den, r = num % den;  // truncates toward zero
  const int64_t abs_r = r < 0 ? -r : r;
  if (abs_r >= den - abs_r) return num < 0 ? q - 1 : q + 1;  // 2*|r| >= den without overflow
  return q;
}

int64_t div_round_half_up(int64_t num, int64_t den) {
  const int64_t n = 2 * num + den, d = 2 * den;
  return n / d - ((n % d != 0) && (n < 0));  // floor division
}

int64_t isqrt(int64_t v) {  // Newton's iteration from above, on integers
  if (v < 2) return v < 0 ? 0 : v;
  auto x = static_cast<uint64_t>(v), y = (x + 1) / 2;
  while (y < x) {
    x = y;
    y = (x + static_cast<uint64_t>(v) / x) / 2;
  }
  return static_cast<int64_t>(x);
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
