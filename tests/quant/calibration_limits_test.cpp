// Ranges at the edge of float32 (found by fuzz/fuzz_calibration.cpp): a grid whose ends would
// dequantize beyond FLT_MAX is refused with one Error; the widest grid that fits is accepted and
// every value of it dequantizes to a finite float.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "quant/calibration.h"

using namespace tpusim;
using Catch::Contains;

TEST_CASE("a range whose grid reaches beyond float32 is refused", "[calibration][limits]") {
  const double big = 3e38;
  QuantSpec s3{3, true, false};  // [-4, 3]
  // Asymmetric [-3e38, 3e38]: scale 8.6e37, zero point 0, qmin * scale = -3.4e38 < -FLT_MAX.
  REQUIRE_THROWS_WITH(params_from_range(-big, big, s3, false),
                      Contains("beyond float32") && Contains("3-bit"));
  // Symmetric int8 at FLT_MAX: -128 * FLT_MAX / 127 overflows too.
  const double fmax = std::numeric_limits<float>::max();
  REQUIRE_THROWS_WITH(params_from_range(-fmax, fmax, QuantSpec{8, true, false}, true),
                      Contains("beyond float32"));
  // The narrow grid [-127, 127] over [-1e38, 1e38] reaches 1e38: accepted.
  const QuantParams p = params_from_range(-1e38, 1e38, QuantSpec{8, true, true}, true);
  for (int32_t q = p.spec.qmin(); q <= p.spec.qmax(); ++q)
    CHECK(std::isfinite(p.scale * static_cast<float>(q - p.zero_point)));
  CHECK(std::isfinite(fake_quantize(-1e38f, p)));
  CHECK(std::isfinite(fake_quantize(3e38f, p)));
}

TEST_CASE("calibrating data near FLT_MAX gives an Error, not infinities", "[calibration][limits]") {
  RangeObserver obs("x");
  const std::vector<float> x = {1e-45f, -1e-40f, 0.0f, 1e-38f, 3e38f, -3e38f};
  obs.observe(x);
  CalibOptions opt;
  opt.symmetric = false;
  REQUIRE_THROWS_AS(calibrate(obs, QuantSpec{3, true, false}, opt), Error);
  opt.symmetric = true;  // symmetric int8: 3e38 * 128 / 127 fits
  const QuantParams p = calibrate(obs, QuantSpec{8, true, false}, opt);
  CHECK(std::isfinite(quantization_error(x, p, "x").total_mse()));
}
