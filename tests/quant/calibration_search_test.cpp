// PTQ calibration (quant/calibration.h), the range choosers, against references written here:
// exact sorted-array quantiles (percentile), brute-force MSE over a grid of thresholds, a
// hand-computed KL divergence; degenerate tensors; the docs/calibration.md table ([.table]).
// Fixed seeds.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "base/error.h"
#include "quant/calibration.h"
#include "tests/quant/calibration_fixtures.h"

using namespace tpusim;
using namespace calibtest;
using Catch::Matchers::Contains;

namespace {
double sample_mse(const std::vector<float>& x, double s, int zp, int qmin, int qmax) {
  double e = 0;
  for (float v : x) e += (v - ref_fq(v, s, zp, qmin, qmax)) * (v - ref_fq(v, s, zp, qmin, qmax));
  return e / double(x.size());
}
// Symmetric signed grid with threshold t: scale t / qmax, zp 0.
double sym_mse(const std::vector<float>& x, double t, const QuantSpec& sp) {
  return sample_mse(x, t / sp.qmax(), 0, sp.qmin(), sp.qmax());
}
// Minimum of f over [a, b]: a 200-point scan, then 100 points across the best cell's neighbours.
template <class F>
double brute_min(F f, double a, double b) {
  const double step = (b - a) / 200;
  double best = INFINITY, arg = a;
  for (double t = a; t <= b; t += step)
    if (const double e = f(t); e < best) best = e, arg = t;
  for (double t = arg - step; t <= arg + step; t += step / 50) best = std::min(best, f(t));
  return best;
}
double threshold(const RangeObserver& obs, const QuantSpec& sp, CalibMethod m) {
  return choose_range(obs, sp, {m, true, 99.99}).hi;
}
}  // namespace

TEST_CASE("percentile: within one bin of the exact sorted-array quantile") {
  std::vector<float> x = samples(Dist::Gaussian, 200000, 5);
  for (size_t i = 0; i < x.size(); i += 2) x[i] = std::fabs(x[i]) * 3;  // skewed: heavier right tail
  const RangeObserver obs = observe_all(x);
  const double w = obs.histogram().bin_width();
  std::vector<float> sorted = x, mag(x.size());
  std::sort(sorted.begin(), sorted.end());
  std::transform(x.begin(), x.end(), mag.begin(), [](float v) { return std::fabs(v); });
  std::sort(mag.begin(), mag.end());
  auto quantile = [](const std::vector<float>& s, double p) {
    return s[size_t(std::ceil(p * double(s.size()))) - 1];
  };
  for (double pct : {99.0, 99.9, 99.99}) {
    INFO("percentile " << pct);
    const ClipRange sym = choose_range(obs, {8, true, false}, {CalibMethod::Percentile, true, pct});
    CHECK(std::fabs(sym.hi - quantile(mag, pct / 100)) <= w);
    CHECK(sym.lo == -sym.hi);
    const ClipRange asym = choose_range(obs, {8, false, false}, {CalibMethod::Percentile, false, pct});
    CHECK(std::fabs(asym.hi - quantile(sorted, pct / 100)) <= w);
    CHECK(std::fabs(asym.lo - quantile(sorted, 1 - pct / 100)) <= w);
  }
  CHECK(choose_range(obs, {8, true, false}, {CalibMethod::Percentile, true, 100}).hi == Approx(mag.back()));
  CHECK_THROWS_AS(choose_range(obs, {8, true, false}, {CalibMethod::Percentile, true, 0}), Error);
}

TEST_CASE("MSE: the threshold is near the brute-force optimum; fewer bits clip tighter") {
  const std::vector<float> x = samples(Dist::Gaussian, 100000, 1);
  const RangeObserver obs = observe_all(x);
  double t_prev = INFINITY;
  for (int bits : {8, 4, 2}) {
    const QuantSpec sp{bits, true, bits == 2};
    const double best = brute_min([&](double t) { return sym_mse(x, t, sp); }, 0.5, 6.0);
    const double t_mse = threshold(obs, sp, CalibMethod::Mse);
    INFO(bits << " bits: threshold " << t_mse);
    CHECK(sym_mse(x, t_mse, sp) <= 1.02 * best);
    CHECK(t_mse < t_prev);
    t_prev = t_mse;
    if (bits == 8) CHECK((t_mse > 3.5 && t_mse < 5.5));
    if (bits == 4) CHECK((t_mse > 2.0 && t_mse < 3.0));
  }
  for (double t : {1.0, 2.5, 4.0})  // the histogram estimate the search minimises (uniform within a bin)
    for (int bits : {8, 4}) {
      const QuantParams p = params_from_range(-t, t, {bits, true, false}, true);
      CHECK(expected_quant_mse(obs.histogram(), p) == Approx(sym_mse(x, t, p.spec)).epsilon(0.03));
    }
}

TEST_CASE("MSE: asymmetric against a 2-D grid, unsigned after ReLU against a 1-D grid") {
  std::vector<float> y = samples(Dist::Laplace, 10000, 2);
  for (float& v : y) v = v < 0 ? v * 0.3f : v;  // skewed
  const RangeObserver oy = observe_all(y);
  const QuantSpec sp{4, false, false};
  const QuantParams p = calibrate(oy, sp, {CalibMethod::Mse, false});
  auto grid_mse = [&](double lo, double hi) {
    const QuantParams g = params_from_range(lo, hi, sp, false);
    return sample_mse(y, g.scale, g.zero_point, 0, 15);
  };
  double best = INFINITY, best_lo = 0, best_hi = 0;
  for (double lo = -3; lo <= 0; lo += 0.1)  // coarse, then fine around the best cell
    for (double hi = 1; hi <= 10; hi += 0.3)
      if (const double e = grid_mse(lo, hi); e < best) best = e, best_lo = lo, best_hi = hi;
  for (double lo = best_lo - 0.1; lo <= std::min(0.0, best_lo + 0.1); lo += 0.01)
    for (double hi = best_hi - 0.3; hi <= best_hi + 0.3; hi += 0.03) best = std::min(best, grid_mse(lo, hi));
  CHECK(sample_mse(y, p.scale, p.zero_point, 0, 15) <= 1.02 * best);
  const QuantParams r = calibrate(oy, sp, {CalibMethod::Mse, true});
  const double best_r = brute_min([&](double t) { return sample_mse(y, t / 15, 0, 0, 15); }, 0.5, 10);
  CHECK(sample_mse(y, r.scale, 0, 0, 15) <= 1.02 * best_r);
}

TEST_CASE("KL divergence: hand-computed values") {
  // P = [4, 2, 2, 1 + 1] / 10; Q = [4+2, 2+1] spread over two bins each = [3, 3, 1.5, 1.5] / 9.
  const std::vector<uint64_t> h{4, 2, 2, 1, 1};
  CHECK(kl_divergence(h, 4, 2) == Approx(0.8 * std::log(1.2) + 0.2 * std::log(0.6)).epsilon(1e-12));
  // A zero bin gets no share of its group: P = [2, 0, 4, 4] / 10, Q = [2, 0, 4, 4] / 10 -> 0.
  CHECK(kl_divergence(std::vector<uint64_t>{2, 0, 4, 4}, 4, 2) == Approx(0.0).margin(1e-15));
  // Last group [1, 3] with 2 outliers: P = [1, 1, 1, 5] / 8, Q = [1, 1, 2, 2] / 6.
  const double kl = 2 * (1.0 / 8) * std::log((1.0 / 8) / (1.0 / 6)) +
                    (1.0 / 8) * std::log((1.0 / 8) / (2.0 / 6)) + (5.0 / 8) * std::log((5.0 / 8) / (2.0 / 6));
  CHECK(kl_divergence(std::vector<uint64_t>{1, 1, 1, 3, 2}, 4, 3) == Approx(kl).epsilon(1e-12));
  CHECK(kl_divergence(std::vector<uint64_t>{0, 0, 5}, 2, 2) == INFINITY);  // all mass beyond
  CHECK_THROWS_AS(kl_divergence(h, 2, 3), Error);
}

TEST_CASE("KL: clips rare outliers, keeps the max of a uniform, works down to 2 bits") {
  std::vector<float> x = samples(Dist::Laplace, 500000, 9);
  x[10] = 30, x[20] = -30;  // rare: 4e-6 of the data
  const RangeObserver obs = observe_all(x);
  for (int bits : {8, 4}) {
    const QuantSpec sp{bits, true, false};
    const double t_kl = threshold(obs, sp, CalibMethod::Kl), t_mse = threshold(obs, sp, CalibMethod::Mse);
    INFO(bits << " bits: KL " << t_kl << ", MSE " << t_mse);
    CHECK(t_kl < 0.5 * 30);
    CHECK((t_kl > t_mse / 2 && t_kl < t_mse * 2));
  }
  const RangeObserver uni = observe_all(samples(Dist::Uniform, 200000, 4));
  const double amax = std::max(-uni.min(), uni.max());
  for (int bits : {8, 4, 2}) {
    INFO(bits << " bits");
    CHECK(threshold(uni, {bits, true, false}, CalibMethod::Kl) > 0.97 * amax);
  }
  // 2 bits: two levels over [0, T]; the search starts at 2 bins and still picks a sensible T.
  const RangeObserver g = observe_all(samples(Dist::Gaussian, 100000, 6));
  const double t2 = threshold(g, {2, true, true}, CalibMethod::Kl);
  CHECK((t2 > 0.5 && t2 < 3.5));
  const ClipRange relu = choose_range(g, {4, false, false}, {CalibMethod::Kl, true});
  CHECK((relu.lo == 0 && relu.hi > 1 && relu.hi <= g.max()));
}

TEST_CASE("every method gives a valid range for degenerate tensors") {
  RangeObserver zeros("z"), constant("c");
  zeros.observe(std::vector<float>(100, 0.0f));
  constant.observe(std::vector<float>(100, 3.0f));
  for (CalibMethod m :
       {CalibMethod::MinMax, CalibMethod::Ema, CalibMethod::Percentile, CalibMethod::Mse, CalibMethod::Kl})
    for (bool sym : {true, false}) {
      INFO(name(m) << (sym ? " symmetric" : " asymmetric"));
      CHECK(calibrate(zeros, {8, true, false}, {m, sym}).scale == kMinScale);
      const QuantParams p = calibrate(constant, {4, false, false}, {m, sym});
      CHECK(fake_quantize(3.0f, p) == Approx(3.0f).epsilon(0.02));
      CHECK(calib_method_from_name(name(m)) == m);
    }
  CHECK(!calib_method_from_name("entropy"));
}

TEST_CASE("thresholds in sigmas for docs/calibration.md", "[.table]") {
  fmt::print("| distribution | bits | minmax | percentile 99.99 | MSE | KL |\n|---|---|---|---|---|---|\n");
  for (Dist d : {Dist::Gaussian, Dist::Laplace}) {
    const RangeObserver obs = observe_all(samples(d, 1000000, 42));
    const double sigma = d == Dist::Gaussian ? 1 : std::sqrt(2.0);
    for (int bits : {8, 4, 2}) {
      const QuantSpec sp{bits, true, true};
      fmt::print("| {} | {} |", d == Dist::Gaussian ? "Gaussian" : "Laplace", bits);
      for (CalibMethod m : {CalibMethod::MinMax, CalibMethod::Percentile, CalibMethod::Mse, CalibMethod::Kl})
        fmt::print(" {:.2f} |", threshold(obs, sp, m) / sigma);
      fmt::print("\n");
    }
  }
}
