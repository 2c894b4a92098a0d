// Property tests of the machine's integer arithmetic (isa/numerics.h): round_shift, requant,
// rounding_div, the saturating casts and the packed element layout, against exact references
// written here independently of numerics.cpp (tests/support/exact_math.h: __int128 with explicit
// floor division, no right shifts; a byte model of the layout). Random loops count mismatches and
// report the first one, so a million cases cost one REQUIRE. The quantization math built on them
// (quantize_multiplier, QuantizeLinear) is tested in tests/quant/quantize_test.cpp.
#include "isa/numerics.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "tests/support/exact_math.h"
#include "tests/support/failures.h"

using namespace tpusim;
using namespace tpusim_test;

namespace {

// Full-range int32, with half of the draws near INT32_MIN, 0 or INT32_MAX.
int32_t random_acc(std::mt19937_64& rng) {
  const uint64_t r = rng();
  const int64_t small = static_cast<int64_t>((r >> 8) % 256);
  switch (r % 6) {
    case 0: return static_cast<int32_t>(INT32_MIN + small);
    case 1: return static_cast<int32_t>(INT32_MAX - small);
    case 2: return static_cast<int32_t>(small - 128);
    default: return static_cast<int32_t>(static_cast<uint32_t>(r >> 32));
  }
}
int32_t random_m0(std::mt19937_64& rng) {
  const uint64_t r = rng();
  switch (r % 4) {
    case 0: return static_cast<int32_t>(1 + (r >> 33) % 256);
    case 1: return static_cast<int32_t>((1u << 30) + (r >> 34));  // normalised [2^30, 2^31)
    case 2: return INT32_MAX - static_cast<int32_t>((r >> 8) % 4);
    default: return static_cast<int32_t>(1 + (r >> 33) % INT32_MAX);  // [1, 2^31 - 1]
  }
}
}  // namespace

TEST_CASE("round_shift rounds half up, exactly, over the whole documented domain", "[numerics]") {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int64_t> x_dist(-(int64_t{1} << 62) + 1, (int64_t{1} << 62) - 1);
  Failures f;
  for (int i = 0; i < kCases; ++i) {
    const int64_t x = i % 3 == 0 ? int64_t{random_acc(rng)} * random_m0(rng) : x_dist(rng);
    const int s = static_cast<int>(rng() % 64);
    const i128 ref = ref_round_shift(x, s);
    // The rounding property itself, in rationals: ref*2^s - x lies in (-2^(s-1), 2^(s-1)].
    const i128 d = ref * pow2(s) - x;
    const bool rounds = s == 0 ? d == 0 : (-pow2(s - 1) < d && d <= pow2(s - 1));
    const int64_t got = round_shift(x, s);
    if (got != ref || !rounds) f.add("x={} shift={} got={} ref={}", x, s, got, static_cast<int64_t>(ref));
  }
  REQUIRE_NO_FAILURES(f);
  // Ties go toward +infinity, for negative values too.
  CHECK(round_shift(1, 1) == 1);
  CHECK(round_shift(-1, 1) == 0);
  CHECK(round_shift(-3, 1) == -1);
  CHECK(round_shift(-6, 2) == -1);  // -1.5 -> -1
  CHECK(round_shift(-5, 2) == -1);
  CHECK(round_shift(-7, 2) == -2);
  CHECK(round_shift(7, 0) == 7);
  CHECK(round_shift((int64_t{1} << 62) - 1, 63) == 0);  // just below one half
  CHECK(round_shift(-(int64_t{1} << 62) + 1, 63) == 0);
}

TEST_CASE("requant equals clamp(zp + round_half_up(acc*M0 / 2^shift)) for random and edge inputs",
          "[numerics]") {
  const auto check = [](Failures& f, int32_t acc, int32_t m0, int s, int32_t zp, int32_t lo, int32_t hi) {
    const i128 ref = std::clamp<i128>(zp + ref_round_shift(i128{acc} * m0, s), lo, hi);
    const int32_t got = requant(acc, m0, s, zp, lo, hi);
    if (got != ref || got < lo || got > hi)
      f.add("acc={} M0={} shift={} zp={} lo={} hi={}: got {} want {}", acc, m0, s, zp, lo, hi, got,
            static_cast<int64_t>(ref));
  };
  std::mt19937_64 rng(12);
  Failures f;
  for (int i = 0; i < kCases; ++i) {
    const int32_t acc = random_acc(rng), m0 = random_m0(rng);
    const int s = static_cast<int>(rng() % 64);
    const uint64_t r = rng();
    const int32_t zp = r % 2 ? static_cast<int32_t>(r >> 32) : static_cast<int32_t>((r >> 8) % 384) - 128;
    int32_t lo = INT32_MIN, hi = INT32_MAX;
    if (r % 3 == 1) {  // a type's range, as the compiler emits them
      const DTypeTraits& t = traits(kAllTypes[(r >> 20) % kNumDTypes]);
      lo = static_cast<int32_t>(t.qmin), hi = static_cast<int32_t>(t.qmax);
    } else if (r % 3 == 2) {
      lo = static_cast<int32_t>(rng()), hi = static_cast<int32_t>(rng());
      if (lo > hi) std::swap(lo, hi);
    }
    check(f, acc, m0, s, zp, lo, hi);
  }
  const int32_t accs[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX};
  const int32_t m0s[] = {1, 2, (1 << 30) - 1, 1 << 30, (1 << 30) + 1, INT32_MAX - 1, INT32_MAX};
  const int shifts[] = {0, 1, 2, 29, 30, 31, 32, 61, 62, 63};
  const int32_t zps[] = {INT32_MIN, -128, 0, 127, 255, INT32_MAX};
  for (int32_t acc : accs)
    for (int32_t m0 : m0s)
      for (int s : shifts)
        for (int32_t zp : zps)
          for (DType t : kAllTypes)
            check(f, acc, m0, s, zp, static_cast<int32_t>(traits(t).qmin),
                  static_cast<int32_t>(traits(t).qmax));
  REQUIRE_NO_FAILURES(f);
}

TEST_CASE("rounding_div rounds to nearest, ties away from zero", "[numerics]") {
  std::mt19937_64 rng(31);
  Failures f;
  const auto check = [&f](int64_t num, int64_t den) {
    // sign(num) * floor((2|num| + den) / (2 den)), and the property it stands for.
    const i128 mag = floor_div(2 * abs128(num) + den, 2 * i128{den}), ref = num < 0 ? -mag : mag;
    const i128 d = abs128(ref * den - num);
    const bool prop = 2 * d < den || (2 * d == den && abs128(ref * den) > abs128(num));
    const int64_t got = rounding_div(num, den);
    if (got != ref || !prop) f.add("{} / {}: got {} want {}", num, den, got, static_cast<int64_t>(ref));
  };
  for (int i = 0; i < kCases; ++i) {
    const uint64_t r = rng();
    const int64_t near_end = (r & 8 ? INT64_MIN : INT64_MAX - 255) + static_cast<int64_t>((r >> 8) % 256);
    const int64_t num = r % 3 == 0   ? static_cast<int64_t>(rng() % 20001) - 10000
                        : r % 3 == 1 ? near_end
                                     : static_cast<int64_t>(rng());
    const int64_t den = r & 4 ? 1 + static_cast<int64_t>((r >> 8) % 64) : static_cast<int64_t>(rng() >> 1);
    check(num, std::max<int64_t>(den, 1));
  }
  for (int64_t num : {INT64_MIN, INT64_MIN + 1, int64_t{-7}, int64_t{-1}, int64_t{0}, int64_t{1}, INT64_MAX})
    for (int64_t den :
         {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{1} << 62, (int64_t{1} << 62) + 1, INT64_MAX})
      check(num, den);
  REQUIRE_NO_FAILURES(f);
  CHECK(rounding_div(5, 2) == 3);
  CHECK(rounding_div(-5, 2) == -3);
  CHECK(rounding_div(-6, 4) == -2);
  CHECK(rounding_div(-5, 4) == -1);
  CHECK(rounding_div(-7, 4) == -2);
}

TEST_CASE("saturate and sat_int32 clamp to each type's range", "[numerics]") {
  std::mt19937_64 rng(51);
  Failures f;
  for (DType t : kAllTypes) {
    const int64_t lo = traits(t).qmin, hi = traits(t).qmax;
    std::vector<int64_t> vs = {INT64_MIN,
                               INT64_MIN + 1,
                               lo - 1,
                               lo,
                               lo + 1,
                               -1,
                               0,
                               1,
                               hi - 1,
                               hi,
                               hi + 1,
                               INT64_MAX,
                               int64_t{INT32_MIN} - 1,
                               int64_t{INT32_MAX} + 1};
    for (int i = 0; i < 100'000; ++i)
      vs.push_back(i % 2 ? static_cast<int64_t>(rng()) : static_cast<int64_t>(rng() % 600) - 300);
    for (int64_t v : vs) {
      if (saturate(v, t) != ref_saturate(v, t)) f.add("saturate({}, {}) = {}", v, name(t), saturate(v, t));
      if (sat_int32(v) != ref_saturate(v, DType::Int32)) f.add("sat_int32({}) = {}", v, sat_int32(v));
    }
  }
  REQUIRE_NO_FAILURES(f);
}

namespace {
// Byte model of the packed layout, with arithmetic instead of masks and shifts.
void model_store(std::vector<uint8_t>& b, uint64_t i, DType t, int32_t v) {
  const auto u = static_cast<uint32_t>(v);  // store keeps the low bits of v
  if (bits(t) == 4) {
    const uint32_t nib = u % 16, byte = b[i / 2];
    b[i / 2] = static_cast<uint8_t>(i % 2 == 0 ? byte / 16 * 16 + nib : byte % 16 + nib * 16);
  } else {
    uint32_t w = u;
    for (uint64_t k = 0; k < static_cast<uint64_t>(bits(t)) / 8; ++k, w /= 256)
      b[i * bits(t) / 8 + k] = static_cast<uint8_t>(w % 256);  // little-endian
  }
}
int32_t model_load(const std::vector<uint8_t>& b, uint64_t i, DType t) {
  int64_t u = 0;
  if (bits(t) == 4)
    u = i % 2 == 0 ? b[i / 2] % 16 : b[i / 2] / 16;
  else
    for (int k = bits(t) / 8 - 1; k >= 0; --k) u = u * 256 + b[i * bits(t) / 8 + static_cast<uint64_t>(k)];
  const int64_t half = int64_t{1} << (bits(t) - 1);
  return static_cast<int32_t>(traits(t).is_signed && u >= half ? u - 2 * half : u);
}
}  // namespace

TEST_CASE("packed element layout: explicit bytes", "[numerics]") {
  uint8_t b[4] = {0xAB, 0, 0, 0};
  store_elem(b, 0, DType::Int4, 5);  // low nibble first; the high nibble is kept
  CHECK(b[0] == 0xA5);
  store_elem(b, 1, DType::Int4, -1);
  CHECK(b[0] == 0xF5);
  CHECK(load_elem(b, 1, DType::Int4) == -1);  // sign-extended
  CHECK(load_elem(b, 1, DType::UInt4) == 15);
  store_elem(b, 0, DType::Int4, 9);  // low bits only: callers saturate first
  CHECK(load_elem(b, 0, DType::Int4) == -7);
  CHECK(pack_nibbles(3, -2) == 0xE3);
  CHECK(unpack_nibble(0xE3, 0, true) == 3);
  CHECK(unpack_nibble(0xE3, 1, true) == -2);
  CHECK(unpack_nibble(0xE3, 1, false) == 14);
  CHECK(unpack_nibble(0x80, 1, true) == -8);
  store_elem(b, 0, DType::Int32, 0x12345678);
  CHECK((b[0] == 0x78 && b[1] == 0x56 && b[2] == 0x34 && b[3] == 0x12));
  store_elem(b, 0, DType::Int32, -2);
  CHECK((b[0] == 0xFE && b[1] == 0xFF && b[2] == 0xFF && b[3] == 0xFF));
  CHECK(load_elem(b, 0, DType::Int32) == -2);
  CHECK(load_elem(b, 0, DType::Int8) == -2);
  CHECK(load_elem(b, 0, DType::UInt8) == 254);
  for (int lo = -8; lo < 16; ++lo)
    for (int hi = -8; hi < 16; ++hi) {
      const uint8_t p = pack_nibbles(lo, hi);
      INFO(lo << ", " << hi);
      REQUIRE(p == (lo & 15) + 16 * (hi & 15));
      REQUIRE(unpack_nibble(p, 0, false) == (lo & 15));
      REQUIRE(unpack_nibble(p, 1, true) == ((hi & 15) >= 8 ? (hi & 15) - 16 : (hi & 15)));
    }
}

TEST_CASE("packed element layout: random stores match the byte model, neighbours intact", "[numerics]") {
  std::mt19937_64 rng(61);
  Failures f;
  for (DType t : kAllTypes)
    for (uint64_t n : {1, 3, 7, 33, 101}) {  // odd lengths: 4-bit buffers end in a padding nibble
      std::vector<uint8_t> buf(packed_bytes(t, n)), model;  // exact size: ASan sees any overrun
      for (auto& byte : buf) byte = static_cast<uint8_t>(rng());
      model = buf;
      for (int op = 0; op < 2000; ++op) {
        const uint64_t i = rng() % n;
        // In range mostly; sometimes any int32, whose low bits are stored.
        const auto v = static_cast<int32_t>(op % 8 ? random_in(rng, t) : static_cast<int32_t>(rng()));
        store_elem(buf.data(), i, t, v);
        model_store(model, i, t, v);
        if (buf != model) f.add("{} n={}: store [{}] = {} changed other bytes", name(t), n, i, v);
        for (uint64_t j = 0; j < n; ++j)
          if (load_elem(buf.data(), j, t) != model_load(model, j, t))
            f.add("{} n={}: load [{}] = {}, want {}", name(t), n, j, load_elem(buf.data(), j, t),
                  model_load(model, j, t));
        if (f.count) break;
      }
    }
  REQUIRE_NO_FAILURES(f);
}

TEST_CASE("div_round_half_up and isqrt against exact references", "[numerics]") {
  std::mt19937_64 rng(37);
  Failures f;
  for (int i = 0; i < kCases; ++i) {
    // |num| < 2^61, den > 0: floor((2 num + den) / 2 den) in 128 bits.
    const int64_t num =
        static_cast<int64_t>(rng() >> 4) * (rng() & 1 ? 1 : -1) >> (rng() % 60);  // |num| < 2^60
    const int64_t den = 1 + static_cast<int64_t>(rng() >> (3 + rng() % 58));
    const i128 ref = floor_div(2 * i128{num} + den, 2 * i128{den});
    if (div_round_half_up(num, den) != ref) f.add("{} / {}: got {}", num, den, div_round_half_up(num, den));
    const int64_t v = static_cast<int64_t>(rng() >> (1 + rng() % 62));
    const int64_t r = isqrt(v);
    if (i128{r} * r > v || i128{r + 1} * (r + 1) <= v) f.add("isqrt({}) = {}", v, r);
  }
  CHECK(div_round_half_up(5, 2) == 3);  // ties toward +inf, as round_shift
  CHECK(div_round_half_up(-5, 2) == -2);
  CHECK(div_round_half_up(-7, 2) == -3);
  CHECK(isqrt(0) == 0);
  CHECK(isqrt(-4) == 0);
  CHECK(isqrt(INT64_MAX) == 3037000499);
  REQUIRE_NO_FAILURES(f);
}
