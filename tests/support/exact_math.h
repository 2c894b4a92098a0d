// Exact references shared by the numerics property tests of isa/ (tests/isa/numerics_test.cpp) and
// quant/ (tests/quant/quantize_test.cpp): __int128 with explicit floor division (no right shifts),
// so that no reference shares an arithmetic shortcut with the code under test; the types' ranges
// written as an if-chain; random draws.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>

#include "isa/dtype.h"

namespace tpusim_test {

__extension__ typedef __int128 i128;  // __extension__: GCC's int128 is not ISO C++

// Random cases per property test (one REQUIRE each, see failures.h).
inline constexpr int kCases = 1'000'000;
inline constexpr tpusim::DType kAllTypes[] = {tpusim::DType::Int8, tpusim::DType::UInt8, tpusim::DType::Int4,
                                              tpusim::DType::UInt4, tpusim::DType::Int32};

inline i128 pow2(int k) { return i128{1} << k; }
inline i128 abs128(i128 v) { return v < 0 ? -v : v; }
// floor(a / b) for b > 0; C++ division truncates toward zero, so correct it for negative a.
inline i128 floor_div(i128 a, i128 b) {
  const i128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
// Round half toward +infinity: floor((x + 2^(s-1)) / 2^s).
inline i128 ref_round_shift(i128 x, int s) { return s == 0 ? x : floor_div(x + pow2(s - 1), pow2(s)); }

// log-uniform in [2^lo, 2^hi]
inline double log_uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::exp2(std::uniform_real_distribution<double>(lo, hi)(rng));
}

// Uniform over t's range [qmin, qmax].
inline int32_t random_in(std::mt19937_64& rng, tpusim::DType t) {
  const auto span = static_cast<uint64_t>(tpusim::traits(t).qmax - tpusim::traits(t).qmin + 1);
  return static_cast<int32_t>(tpusim::traits(t).qmin + static_cast<int64_t>(rng() % span));
}

inline int64_t ref_saturate(int64_t v, tpusim::DType t) {
  if (v < tpusim::traits(t).qmin) return tpusim::traits(t).qmin;
  if (v > tpusim::traits(t).qmax) return tpusim::traits(t).qmax;
  return v;
}

}  // namespace tpusim_test
