// Property tests of the integer requant path of isa/numerics.h (round_shift, requant,
// quantize_multiplier, rounding_div) against exact references written here independently of
// numerics.cpp: __int128 with explicit floor division (no right shifts) and rational error bounds.
// Random loops count mismatches and report the first one, so a million cases cost one REQUIRE.
// The element-level functions are tested in numerics_elem_test.cpp.
#include "isa/numerics.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>

#include "failures.h"
#include "isa/error.h"

using namespace tpusim;

namespace {
__extension__ typedef __int128 i128;  // __extension__: GCC's int128 is not ISO C++

constexpr int kCases = 1'000'000;
constexpr DType kAllTypes[] = {DType::Int8, DType::UInt8, DType::Int4, DType::UInt4, DType::Int32};

i128 pow2(int k) { return i128{1} << k; }
i128 abs128(i128 v) { return v < 0 ? -v : v; }
// floor(a / b) for b > 0; C++ division truncates toward zero, so correct it for negative a.
i128 floor_div(i128 a, i128 b) {
  const i128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
// Round half toward +infinity: floor((x + 2^(s-1)) / 2^s).
i128 ref_round_shift(i128 x, int s) { return s == 0 ? x : floor_div(x + pow2(s - 1), pow2(s)); }

using tpusim_test::Failures;

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
// log-uniform in [2^lo, 2^hi]
double log_uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::exp2(std::uniform_real_distribution<double>(lo, hi)(rng));
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
