// PTQ calibration (quant/calibration.h), grids and statistics, against references written here:
// QuantSpec's grids, params_from_range, the RangeObserver's min/max/count and EMA recurrence, the
// histogram's re-binning, per-channel weight scales, and the error report against a hand-written
// uniform quantizer (floor(x/s + 1/2), clamp). Fixed seeds. The range choosers are in
// calibration_search_test.cpp.
#include "quant/calibration.h"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "base/error.h"
#include "tests/quant/calibration_fixtures.h"

using namespace tpusim;
using namespace calibtest;
using Catch::Matchers::Contains;

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
