// Property tests of the quantization math of quant/quantize.h: quantize_multiplier (a float scale
// as M0 * 2^-shift) and ONNX QuantizeLinear / DequantizeLinear, against references written here
// independently (exact rationals over __int128 from tests/support/exact_math.h, a hand-written
// round-half-to-even). Random loops count mismatches and report the first one. The integer
// arithmetic underneath (requant, round_shift) is tested in tests/isa/numerics_test.cpp.
#include "quant/quantize.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>

#include "base/error.h"
#include "isa/numerics.h"
#include "tests/support/exact_math.h"
#include "tests/support/failures.h"

using namespace tpusim;
using namespace tpusim_test;

namespace {
// Checks quantize_multiplier(s) exactly: s = mant * 2^e (mant < 2^53) and M0 * 2^-shift are put
// over the common denominator 2^-t, so the error and the relative error are exact rationals.
void check_multiplier(Failures& f, double s) {
  const QuantMultiplier q = quantize_multiplier(s);
  int exp = 0;
  const auto mant = static_cast<int64_t>(std::ldexp(std::frexp(s, &exp), 53));
  const int e = exp - 53, t = std::min(e, -q.shift);
  const i128 a = q.m0 * pow2(-q.shift - t), b = mant * pow2(e - t), num = abs128(a - b);
  const i128 half_ulp = pow2(-q.shift - t) / 2;  // half a unit of M0, at this denominator
  // M0 is the nearest integer to s * 2^shift, except just below 2^31 where M0 = 2^31 - 1 saturates.
  const bool saturated = q.m0 == kM0Max && q.shift == 0 && s > kM0Max + 0.5;
  const bool nearest = saturated ? num < 2 * half_ulp : num <= half_ulp;
  const bool normalised = q.shift == kMaxShift ? q.m0 >= 1 : q.m0 >= kM0Identity;
  // rel = num / b; for a normalised M0 it is at most half a unit in 2^30, i.e. 2^-31.
  const bool bounded = q.shift == kMaxShift || (num < pow2(80) && num * pow2(31) <= b);
  const long double rel = static_cast<long double>(num) / static_cast<long double>(b);
  const bool rel_ok = num == 0 ? q.rel_error == 0 : std::fabs(q.rel_error - rel) <= rel * 0x1p-50L;
  if (q.shift < 0 || q.shift > kMaxShift || q.m0 < 1 || !nearest || !normalised || !bounded || !rel_ok ||
      std::ldexp(multiplier_value(q.m0, q.shift), q.shift) != q.m0)
    f.add("scale={:a}: M0={} shift={} rel_error={} (exact {})", s, q.m0, q.shift, q.rel_error,
          static_cast<double>(rel));
}
void require_rejected(double s) {
  INFO("scale " << s);
  REQUIRE_THROWS_AS(quantize_multiplier(s), Error);
  REQUIRE_THROWS_WITH(quantize_multiplier(s), Catch::Matchers::Contains(fmt::format("{}", s)));
}
}  // namespace

TEST_CASE("quantize_multiplier picks the nearest normalised M0 and reports its exact error", "[numerics]") {
  std::mt19937_64 rng(21);
  Failures f;
  for (int i = 0; i < kCases; ++i) check_multiplier(f, log_uniform(rng, -40, 30));
  // Exact ties between two M0 candidates and values just around powers of two.
  for (int k = -33; k <= 30; ++k)
    for (double m : {0x40000000.8p0, 0x7fffffff.8p0, 0x7fffffff.cp0, 0x3fffffff.fp0})
      check_multiplier(f, std::ldexp(m, k - 30));
  for (double s : {0x1p31 - 0.5, 0x1p31 - 1, 0x1p31 - 1.5, std::nextafter(0x1p31, 0.0), 0x1p-64, 0x1p-63})
    check_multiplier(f, s);
  REQUIRE_NO_FAILURES(f);
}

TEST_CASE("quantize_multiplier special scales", "[numerics]") {
  const auto is = [](double s, int32_t m0, int shift, double rel) {
    const QuantMultiplier q = quantize_multiplier(s);
    INFO("scale " << s);
    CHECK(q.m0 == m0);
    CHECK(q.shift == shift);
    CHECK(q.rel_error == Approx(rel).epsilon(1e-12).margin(0));
  };
  is(1.0, 1 << 30, 30, 0);
  is(0.5, 1 << 30, 31, 0);
  for (int k = -33; k <= 30; ++k) is(std::ldexp(1.0, k), 1 << 30, 30 - k, 0);    // normalised
  for (int k = -63; k < -33; ++k) is(std::ldexp(1.0, k), 1 << (63 + k), 63, 0);  // shift capped at 63
  is(0x1p-64, 1, 63, 1.0);  // M0 = 0.5 rounds (half away) to 1: the smallest scale still accepted
  is(1 - 0x1p-40, 1 << 30, 30, 0x1p-40 / (1 - 0x1p-40));  // M0 rounds up to 2^31: renormalised
  is(0x1p31 - 1, kM0Max, 0, 0);
  is(0x1p31 - 0.5, kM0Max, 0, 0.5 / (0x1p31 - 0.5));  // saturates to the largest M0 at shift 0
  is(std::nextafter(0x1p31, 0.0), kM0Max, 0, (1 - 0x1p-22) / (0x1p31 - 0x1p-22));
  // Worked example of docs/numerics.md.
  is(0.0123, 1690499128, 37, std::fabs(1690499128 * 0x1p-37 - 0.0123) / 0.0123);
  for (double s : {0.0, -0.0, -1.0, -0x1p-70, std::nextafter(0x1p-64, 0.0), 0x1p-70, 0x1p31, 1e300,
                   std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()})
    require_rejected(s);
}

TEST_CASE("requant with (2^30, 30) or (1, 0) is the identity", "[numerics]") {
  Failures f;
  const auto check = [&f](int64_t a) {
    const auto acc = static_cast<int32_t>(a);
    if (requant(acc, kM0Identity, kShiftIdentity, 0, INT32_MIN, INT32_MAX) != acc ||
        requant(acc, 1, 0, 0, INT32_MIN, INT32_MAX) != acc)
      f.add("acc={}", acc);
  };
  // A prime stride sweeps ~1M values across the whole int32 range; plus both ends exactly.
  for (int64_t a = INT32_MIN; a <= INT32_MAX; a += 4099) check(a);
  for (int64_t a : {int64_t{INT32_MIN}, int64_t{INT32_MIN} + 1, int64_t{-1}, int64_t{0}, int64_t{1},
                    int64_t{INT32_MAX} - 1, int64_t{INT32_MAX}})
    check(a);
  REQUIRE_NO_FAILURES(f);
  REQUIRE(multiplier_value(kM0Identity, kShiftIdentity) == 1.0L);
}

TEST_CASE("requant with quantize_multiplier(s) is within 1 of round(acc * s)", "[numerics]") {
  // (M0, shift) represents s' = s (1 + r) with |r| <= 2^-31, so acc*s' and acc*s differ by at most
  // |acc| s 2^-31 < 1 for |acc| < 2^24, s <= 2^7; two reals less than 1 apart round to integers at
  // most 1 apart. (Most cases agree exactly; the difference shows only near a tie.)
  std::mt19937_64 rng(22);
  std::uniform_int_distribution<int32_t> acc_dist(-(1 << 24) + 1, (1 << 24) - 1);
  Failures f;
  long off_by_one = 0;
  for (int i = 0; i < kCases / 4; ++i) {
    const double s = log_uniform(rng, -30, 4);
    const int32_t acc = acc_dist(rng);
    const QuantMultiplier q = quantize_multiplier(s);
    int exp = 0;
    const auto mant = static_cast<int64_t>(std::ldexp(std::frexp(s, &exp), 53));
    const i128 exact = ref_round_shift(i128{acc} * mant, 53 - exp);  // acc * s, rounded half up
    const int32_t got = requant(acc, q.m0, q.shift, 0, INT32_MIN, INT32_MAX);
    off_by_one += got != exact;
    if (abs128(got - exact) > 1)
      f.add("acc={} scale={:a}: got {} want {}", acc, s, got, static_cast<int64_t>(exact));
  }
  INFO("off by one in " << off_by_one << " cases");
  REQUIRE_NO_FAILURES(f);
}

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ONNX QuantizeLinear written out: the quotient in float (as the ONNX reference computes it),
// rounded half to even by hand from floor(), plus zp, saturated; NaN gives zp.
int64_t ref_quantize(float x, float scale, int32_t zp, DType t) {
  const float q = x / scale;
  if (std::isnan(q)) return ref_saturate(zp, t);
  if (std::fabs(q) >= 0x1p40f) return q > 0 ? traits(t).qmax : traits(t).qmin;  // incl. infinity
  const double fl = std::floor(static_cast<double>(q)), frac = static_cast<double>(q) - fl;
  const bool up = frac > 0.5 || (frac == 0.5 && std::fmod(fl, 2.0) != 0);
  return ref_saturate(static_cast<int64_t>(fl) + (up ? 1 : 0) + zp, t);
}
}  // namespace

TEST_CASE("quantize_linear rounds half to even like ONNX QuantizeLinear", "[numerics]") {
  const std::pair<float, int32_t> ties[] = {{0.5f, 0},   {1.5f, 2},        {2.5f, 2},
                                            {3.5f, 4},   {-0.5f, 0},       {-1.5f, -2},
                                            {-2.5f, -2}, {0.49999997f, 0}, {0.50000006f, 1}};
  for (auto [x, want] : ties) {
    INFO("x = " << x);
    CHECK(quantize_linear(x, 1.0f, 0, DType::Int8) == want);
    CHECK(quantize_linear(x * 0.25f, 0.25f, 0, DType::Int32) == want);
  }
  // The example of the ONNX operator documentation (uint8, scale 2, zero point 128).
  const float xs[] = {0, 2, 3, 1000, -254, -1000};
  const int32_t ys[] = {128, 129, 130, 255, 1, 0};
  for (int i = 0; i < 6; ++i) CHECK(quantize_linear(xs[i], 2.0f, 128, DType::UInt8) == ys[i]);
  // The quotient is rounded to float first, as in ONNX: 12582914 / 3 = 4194304.67 becomes the
  // float 4194304.5, which ties to even (exact arithmetic would give 4194305).
  CHECK(quantize_linear(12582914.0f, 3.0f, 0, DType::Int32) == 4194304);
}

TEST_CASE("quantize_linear saturates, handles zero points and NaN, for every type", "[numerics]") {
  for (DType t : kAllTypes) {
    INFO(name(t));
    const auto lo = static_cast<int32_t>(traits(t).qmin), hi = static_cast<int32_t>(traits(t).qmax);
    const int32_t mid = static_cast<int32_t>((int64_t{lo} + hi) / 2);
    CHECK(quantize_linear(1e30f, 1.0f, 0, t) == hi);
    CHECK(quantize_linear(-1e30f, 1.0f, 0, t) == lo);
    CHECK(quantize_linear(kInf, 0.5f, mid, t) == hi);
    CHECK(quantize_linear(-kInf, 0.5f, mid, t) == lo);
    CHECK(quantize_linear(kNaN, 0.5f, mid, t) == mid);
    CHECK(quantize_linear(0.0f, 0.1f, lo, t) == lo);
    CHECK(quantize_linear(0.0f, 0.1f, hi, t) == hi);
    CHECK(quantize_linear(-0.0f, 0.1f, mid, t) == mid);
    CHECK(quantize_linear(3.0f, 1.0f, hi, t) == hi);  // zp + q saturates, too
    CHECK(quantize_linear(-3.0f, 1.0f, lo, t) == lo);
    if (t != DType::Int32) {
      CHECK(quantize_linear(static_cast<float>(hi) + 0.5f, 1.0f, 0, t) == hi);
      CHECK(quantize_linear(static_cast<float>(lo) - 0.5f, 1.0f, 0, t) == lo);
    }
  }
  CHECK(quantize_linear(0x1p31f, 1.0f, 0, DType::Int32) == INT32_MAX);
  CHECK(quantize_linear(-0x1p31f, 1.0f, 0, DType::Int32) == INT32_MIN);
  CHECK(quantize_linear(2147483520.0f, 1.0f, 1000, DType::Int32) == INT32_MAX);
  CHECK(quantize_linear(0.0f, 0.0f, 5, DType::Int8) == 5);  // 0/0 is NaN: zp, not undefined behaviour
}

TEST_CASE("quantize_linear matches the reference on random inputs", "[numerics]") {
  std::mt19937_64 rng(41);
  std::uniform_real_distribution<double> unit(0, 1);
  Failures f;
  for (DType t : kAllTypes) {
    const int64_t lo = traits(t).qmin, hi = traits(t).qmax;
    for (int i = 0; i < 200'000; ++i) {
      const int32_t zp = random_in(rng, t);
      const uint64_t r = rng();
      float scale = static_cast<float>(std::exp2(unit(rng) * 16 - 12)), x = 0;
      if (r % 4 == 0) {  // an exact tie: (n + 1/2) * 2^k, both exact in float
        scale = std::ldexp(1.0f, static_cast<int>(r >> 8) % 16 - 12);
        x = (static_cast<float>(static_cast<int64_t>(rng() % 600) - 300) + 0.5f) * scale;
      } else if (r % 4 == 1) {
        x = static_cast<float>((unit(rng) * 2 - 1) * 1e12);
      } else {  // around the representable range, including a little beyond it
        const double span = static_cast<double>(std::min<int64_t>(hi - lo, 1 << 20)) + 8;
        x = static_cast<float>((unit(rng) * 2 - 1) * span * scale);
      }
      const int32_t got = quantize_linear(x, scale, zp, t);
      if (got != ref_quantize(x, scale, zp, t))
        f.add("{}: x={:a} scale={:a} zp={}: got {} want {}", name(t), x, scale, zp, got,
              ref_quantize(x, scale, zp, t));
    }
  }
  REQUIRE_NO_FAILURES(f);
}

TEST_CASE("dequantize_linear is (q - zp) * scale and inverts quantize_linear", "[numerics]") {
  CHECK(dequantize_linear(-128, 0.5f, 3) == -65.5f);
  CHECK(dequantize_linear(255, 0.25f, 128) == 31.75f);
  CHECK(dequantize_linear(7, 1.0f, 7) == 0.0f);
  CHECK(dequantize_linear(INT32_MIN, 1.0f, INT32_MAX) == -0x1p32f);  // no int32 overflow in q - zp
  std::mt19937_64 rng(42);
  Failures f;
  for (DType t : kAllTypes) {
    if (t == DType::Int32) continue;  // (q - zp) * scale is not exact in float for large q
    for (int i = 0; i < 500; ++i) {
      const float scale =
          std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000, static_cast<int>(rng() % 30) - 20);
      const auto zp = static_cast<int32_t>(traits(t).qmin + static_cast<int64_t>(rng() % 16));
      for (int64_t q = traits(t).qmin; q <= traits(t).qmax; ++q)
        if (quantize_linear(dequantize_linear(static_cast<int32_t>(q), scale, zp), scale, zp, t) != q)
          f.add("{}: q={} scale={:a} zp={}", name(t), q, scale, zp);
    }
  }
  REQUIRE_NO_FAILURES(f);
}
