// Fixtures of the calibration tests (calibration_test.cpp, calibration_search_test.cpp): sample
// distributions with fixed seeds, an observer fed in batches, and a hand-written uniform quantizer.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "quant/calibration.h"

namespace calibtest {

using tpusim::RangeObserver;

enum class Dist { Gaussian, Laplace, Uniform };

inline std::vector<float> samples(Dist d, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  std::exponential_distribution<float> expo;
  std::uniform_real_distribution<float> uni(-1, 1);
  std::vector<float> x(n);
  for (float& v : x) {
    if (d == Dist::Gaussian)
      v = gauss(rng);
    else if (d == Dist::Laplace)
      v = (rng() & 1 ? 1.0f : -1.0f) * expo(rng);  // b = 1, sigma = sqrt(2)
    else
      v = uni(rng);
  }
  return x;
}

inline RangeObserver observe_all(const std::vector<float>& x, size_t batch = 10000) {
  RangeObserver obs("t");
  for (size_t i = 0; i < x.size(); i += batch)
    obs.observe(std::span<const float>(x).subspan(i, std::min(batch, x.size() - i)));
  return obs;
}

// Reference uniform quantizer: levels (q - zp)·s for q in [qmin, qmax], round to nearest.
inline double ref_fq(double x, double s, int zp, int qmin, int qmax) {
  return (std::clamp(std::floor(x / s + 0.5) + zp, double(qmin), double(qmax)) - zp) * s;
}

}  // namespace calibtest
