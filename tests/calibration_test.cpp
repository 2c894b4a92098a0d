// PTQ calibration (isa/calibration.h) against references written here: a hand-written uniform
// quantizer (floor(x/s + 1/2), clamp), exact sorted-array quantiles, brute-force MSE over a grid
// of thresholds, a hand-computed KL divergence and the EMA recurrence. Fixed seeds.
#include "isa/calibration.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "isa/error.h"

using namespace tpusim;
using Catch::Matchers::Contains;

namespace {
enum class Dist { Gaussian, Laplace, Uniform };

std::vector<float> samples(Dist d, size_t n, uint64_t seed) {
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

RangeObserver observe_all(const std::vector<float>& x, size_t batch = 10000) {
  RangeObserver obs("t");
  for (size_t i = 0; i < x.size(); i += batch)
    obs.observe(std::span<const float>(x).subspan(i, std::min(batch, x.size() - i)));
  return obs;
}

// Reference uniform quantizer: levels (q - zp)·s for q in [qmin, qmax], round to nearest.
double ref_fq(double x, double s, int zp, int qmin, int qmax) {
  return (std::clamp(std::floor(x / s + 0.5) + zp, double(qmin), double(qmax)) - zp) * s;
}
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

TEST_CASE("QuantSpec: grids of 2..8 bits and their storage containers") {
  CHECK((QuantSpec{8, true, false}.qmin() == -128 && QuantSpec{8, true, false}.qmax() == 127));
  CHECK((QuantSpec{8, true, true}.qmin() == -127 && QuantSpec{8, false, false}.qmax() == 255));
  CHECK((QuantSpec{2, true, false}.qmin() == -2 && QuantSpec{2, true, false}.qmax() == 1));
  CHECK((QuantSpec{2, true, true}.qmin() == -1 && QuantSpec{3, false, false}.qmax() == 7));
  CHECK((QuantSpec{6, true, false}.qmin() == -32 && QuantSpec{6, true, false}.qmax() == 31));
  CHECK(QuantSpec{2, true, false}.storage() == DType::Int4);
  CHECK(QuantSpec{3, false, false}.storage() == DType::UInt4);
  CHECK(QuantSpec{5, true, false}.storage() == DType::Int8);
  CHECK(QuantSpec{4, false, false}.storage() == DType::UInt4);
  CHECK(QuantSpec::of(DType::UInt4).qmax() == 15);
  CHECK(QuantSpec::of(DType::Int8, true).qmin() == -127);
  CHECK_THROWS_AS(QuantSpec::of(DType::Int32), Error);
  CHECK_THROWS_WITH((QuantSpec{9, true, false}.validate()), Contains("9 bits"));
  CHECK_THROWS_WITH((QuantSpec{4, false, true}.validate()), Contains("narrow"));
}

TEST_CASE("params_from_range: symmetric, asymmetric and unsigned grids") {
  const QuantSpec i8{8, true, false}, u8{8, false, false}, i4{4, true, false}, u4{4, false, false};
  QuantParams p = params_from_range(-1, 2, i8, true);
  CHECK((p.scale == float(2.0 / 127) && p.zero_point == 0));
  p = params_from_range(-1, 2, u8, false);
  CHECK((p.scale == float(3.0 / 255) && p.zero_point == 85));
  p = params_from_range(-1, 2, i4, false);
  CHECK((p.scale == 0.2f && p.zero_point == -3));
  p = params_from_range(-5, 3, u4, true);  // after ReLU: negatives clip to 0
  CHECK((p.scale == 0.2f && p.zero_point == 0 && fake_quantize(-1.0f, p) == 0.0f));
  p = params_from_range(-0.5, 1, {2, true, true}, true);  // ternary {-1, 0, 1}
  CHECK((p.scale == 1.0f && quantize_value(-7, p) == -1 && quantize_value(7, p) == 1));
  p = params_from_range(-1, 2, {2, true, false}, false);  // levels -1, 0, 1, 2
  CHECK((p.scale == 1.0f && p.zero_point == -1 && quantize_value(9, p) == 1 && quantize_value(-9, p) == -2));
  p = params_from_range(2, 5, {3, false, false}, false);  // range widened to [0, 5]
  CHECK((p.scale == float(5.0 / 7) && p.zero_point == 0));

  SECTION("zero is exactly representable for every grid and range") {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-10, 10);
    int failures = 0;
    for (int bits = 2; bits <= 8; ++bits)
      for (const QuantSpec sp :
           {QuantSpec{bits, true, false}, QuantSpec{bits, true, true}, QuantSpec{bits, false, false}})
        for (int i = 0; i < 500; ++i) {
          double a = u(rng) * std::pow(10.0, int(rng() % 7) - 3), b = u(rng);
          if (a > b) std::swap(a, b);
          for (bool sym : {true, false})
            failures += fake_quantize(0.0f, params_from_range(a, b, sp, sym)) != 0.0f;
        }
    CHECK(failures == 0);
  }
  SECTION("degenerate ranges get a valid positive scale; bad ranges are rejected") {
    CHECK(params_from_range(0, 0, i8, true).scale == kMinScale);
    p = params_from_range(0, 0, u8, false);
    CHECK((p.scale == kMinScale && p.zero_point == 0 && fake_quantize(0.0f, p) == 0.0f));
    p = params_from_range(-3, -3, i8, false);  // constant negative tensor: [-3, 0]
    CHECK((p.zero_point == 127 && fake_quantize(-3.0f, p) == Approx(-3.0f)));
    CHECK_THROWS_AS(params_from_range(1, -1, i8, true), Error);
    CHECK_THROWS_AS(params_from_range(std::nan(""), 1, i8, true), Error);
    CHECK_THROWS_AS(params_from_range(0, INFINITY, i8, false), Error);
  }
}

TEST_CASE("RangeObserver: exact min/max/count, EMA recurrence, non-finite data rejected") {
  RangeObserver obs("conv1.out", {256, 0.9});
  std::mt19937_64 rng(3);
  double ema_lo = 0, ema_hi = 0;
  float lo = INFINITY, hi = -INFINITY;
  for (int b = 0; b < 20; ++b) {
    std::vector<float> x = samples(Dist::Gaussian, 100 + b, rng());
    for (float& v : x) v = v * float(1 + b % 5) + float(b % 3);
    const auto [mn, mx] = std::minmax_element(x.begin(), x.end());
    ema_lo = b == 0 ? *mn : 0.9 * ema_lo + 0.1 * *mn;
    ema_hi = b == 0 ? *mx : 0.9 * ema_hi + 0.1 * *mx;
    lo = std::min(lo, *mn), hi = std::max(hi, *mx);
    obs.observe(x);
  }
  CHECK((obs.min() == lo && obs.max() == hi && obs.count() == 2190 && obs.batches() == 20));
  CHECK(obs.ema_min() == Approx(ema_lo).epsilon(1e-12));
  CHECK(obs.ema_max() == Approx(ema_hi).epsilon(1e-12));
  const ClipRange mm = choose_range(obs, {8, true, false}, {CalibMethod::MinMax, false});
  CHECK((mm.lo == std::min(lo, 0.0f) && mm.hi == hi));
  const ClipRange ema = choose_range(obs, {8, true, false}, {CalibMethod::Ema, true});
  CHECK(ema.hi == Approx(std::max(-ema_lo, ema_hi)));

  const std::vector<float> bad{1.0f, std::numeric_limits<float>::quiet_NaN()};
  CHECK_THROWS_WITH(obs.observe(bad), Contains("conv1.out") && Contains("element 1"));
  CHECK_THROWS_WITH(obs.observe(std::vector<float>{-INFINITY}), Contains("non-finite"));
  CHECK_THROWS_WITH(choose_range(RangeObserver("fc.in"), {8, true, false}, {}), Contains("fc.in"));
  CHECK_THROWS_AS(RangeObserver("x", {256, 1.0}), Error);
}

TEST_CASE("Histogram: re-binning conserves counts and covers min/max") {
  Histogram h(64);
  std::vector<float> all;
  std::mt19937_64 rng(11);
  const std::vector<float> zeros(5, 0.0f);
  h.add(zeros);  // no width yet: held back
  all.insert(all.end(), zeros.begin(), zeros.end());
  CHECK((h.total() == 5 && h.counts().empty() && h.magnitude_counts(false) == std::vector<uint64_t>{5}));
  for (double scale : {1.0, 0.5, 3.0, 10.0, -40.0, 1e3, 1e22, -1e25}) {
    std::vector<float> x = samples(Dist::Uniform, 300, rng());
    for (float& v : x) v = float(v * scale + (scale > 0 ? scale : 0));
    h.add(x);
    all.insert(all.end(), x.begin(), x.end());
    uint64_t sum = 0;
    for (uint64_t c : h.counts()) sum += c;
    const auto [mn, mx] = std::minmax_element(all.begin(), all.end());
    INFO("scale " << scale);
    CHECK((sum == all.size() && h.total() == all.size()));
    CHECK((h.edge(0) <= std::min(*mn, 0.0f) && h.edge(h.num_bins()) >= std::max(*mx, 0.0f)));
    // The merged histogram equals the data binned directly at the final width (nested lattices),
    // except for values within rounding of a bin edge, and the huge jump that lumps old data at 0.
    if (std::fabs(scale) > 1e20) continue;
    std::vector<uint64_t> direct(h.num_bins(), 0);
    for (float v : all)
      ++direct[size_t(
          std::clamp(std::floor(v / h.bin_width()) - double(h.first_index()), 0.0, h.num_bins() - 1.0))];
    CHECK(direct == h.counts());
  }
  uint64_t mag = 0;
  for (uint64_t c : h.magnitude_counts(false)) mag += c;
  CHECK(mag == all.size());
}

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

TEST_CASE("per-channel weight scales: symmetric abs-max per output channel") {
  const std::vector<float> w{1, -2, 0.5f, 0, 0, 0, 3, 1, -6};  // [3, 3]
  CHECK(per_channel_weight_scales(w, 3, {8, true, true}, "w") ==
        std::vector<float>{2.0f / 127, kMinScale, 6.0f / 127});
  CHECK(per_channel_weight_scales(w, 3, {4, true, false}, "w") ==
        std::vector<float>{2.0f / 7, kMinScale, 6.0f / 7});
  CHECK_THROWS_WITH(per_channel_weight_scales(w, 2, {8, true, true}, "conv2.weight"),
                    Contains("conv2.weight"));
  CHECK_THROWS_AS(per_channel_weight_scales(w, 3, {8, false, false}, "w"), Error);
  std::vector<float> bad = w;
  bad[4] = NAN;
  CHECK_THROWS_WITH(per_channel_weight_scales(bad, 3, {8, true, true}, "w"), Contains("element 4"));
}

TEST_CASE("error report: rounding vs clipping, SQNR") {
  const std::vector<float> x = samples(Dist::Uniform, 100000, 8);
  const QuantParams wide = params_from_range(-1, 1, {8, true, false}, true);
  const QuantErrorReport r = quantization_error(x, wide, "t");
  CHECK((r.clipped == 0 && r.clipping_mse == 0));
  CHECK(r.rounding_mse == Approx(double(wide.scale) * wide.scale / 12).epsilon(0.1));
  double signal = 0, noise = 0;
  for (float v : x) {
    const double e = v - ref_fq(v, wide.scale, 0, -128, 127);
    signal += double(v) * v, noise += e * e;
  }
  CHECK(r.sqnr_db == Approx(10 * std::log10(signal / noise)).epsilon(1e-6));
  CHECK(r.signal_power == Approx(signal / double(x.size())));

  const QuantParams narrow = params_from_range(-0.2, 0.2, {8, true, false}, true);
  const QuantErrorReport tight = quantization_error(x, narrow, "t");
  CHECK(tight.clipping_mse > 100 * tight.rounding_mse);
  const auto outside = [&](float v) { return std::fabs(std::floor(v / narrow.scale + 0.5) + 0.5) > 128; };
  CHECK(tight.clipped == size_t(std::count_if(x.begin(), x.end(), outside)));
  CHECK(tight.total_mse() == Approx(tight.rounding_mse + tight.clipping_mse));
  CHECK(quantization_error(std::vector<float>{0, 1}, params_from_range(0, 1, {2, false, false}, false), "t")
            .sqnr_db == INFINITY);
  CHECK_THROWS_WITH(quantization_error(std::vector<float>{NAN}, wide, "fc1.out"), Contains("fc1.out"));
}

// The table in docs/calibration.md: run with `test_calibration "[.table]"`.
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
