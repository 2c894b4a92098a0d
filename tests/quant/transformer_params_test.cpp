// quant/transformer_params.h: the integers of softmax and layernorm, checked end to end — the
// instructions' integer formulas (isa/isa_table.h) with these parameters and the requant tail
// against the float functions quantized to the output grid.
#include "quant/transformer_params.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "base/error.h"
#include "isa/numerics.h"
#include "quant/quantize.h"

using namespace tpusim;

namespace {

int64_t isqrt_ref(int64_t v) {
  auto r = static_cast<int64_t>(std::sqrt(static_cast<long double>(v)));
  while (r * r > v) --r;
  while ((r + 1) * (r + 1) <= v) ++r;
  return r;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && (a < 0)); }

// The layernorm instruction on one row of int8 codes, then the requant tail with M.
std::vector<int32_t> layernorm_row(const std::vector<int64_t>& q, const LayerNormInts& p, float s_out,
                                   int32_t zp) {
  const QuantMultiplier m = quantize_multiplier(p.unit / s_out);
  const auto D = static_cast<int64_t>(q.size());
  int64_t s1 = 0, s2 = 0;
  for (int64_t x : q) s1 += x, s2 += x * x;
  const int64_t sigma = std::max<int64_t>(1, isqrt_ref(D * s2 - s1 * s1 + p.eps));
  std::vector<int32_t> out;
  for (size_t c = 0; c < q.size(); ++c) {
    const int64_t acc = floor_div(2 * (D * q[c] - s1) * p.g[c] + sigma, 2 * sigma) + p.b[c];
    out.push_back(requant(sat_int32(acc), m.m0, m.shift, zp, -128, 127));
  }
  return out;
}

}  // namespace

TEST_CASE("softmax's exp table and output scale", "[quant][transformer]") {
  const std::vector<int32_t> t = softmax_exp_table(0.05f, DType::Int8);
  REQUIRE(t.size() == 256);
  CHECK(t[0] == 32768);
  CHECK(t[1] == std::lround(32768 * std::exp(-0.05)));
  for (size_t d = 1; d < t.size(); ++d) CHECK(t[d] <= t[d - 1]);
  CHECK(softmax_exp_table(0.5f, DType::UInt4).size() == 16);
  CHECK(softmax_acc_unit() / (1.0f / 256) == 1.0 / 256);  // the requant onto PyTorch's 1/256 grid
  CHECK_THROWS_AS(softmax_exp_table(0.0f, DType::Int8), Error);
}

TEST_CASE("layernorm's integers reproduce the float LayerNorm on the output grid", "[quant][transformer]") {
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> u(-1, 1);
  int64_t total = 0, off_by_one = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const int64_t D = std::uniform_int_distribution<int64_t>(4, 96)(rng);
    const float s_in = std::ldexp(1.0f, -std::uniform_int_distribution<int>(3, 7)(rng));
    const float s_out = 0.03f;
    const int32_t zp = std::uniform_int_distribution<int32_t>(-5, 5)(rng);
    std::vector<double> gamma, beta;
    for (int64_t c = 0; c < D; ++c) gamma.push_back(1.0 + 0.5 * u(rng)), beta.push_back(0.3 * u(rng));
    const double eps = 1e-5;
    const LayerNormInts p = layernorm_ints(gamma, beta, eps, s_in);
    CHECK(*std::max_element(p.g.begin(), p.g.end()) == 32768);
    std::vector<int64_t> q;
    for (int64_t c = 0; c < D; ++c) q.push_back(std::uniform_int_distribution<int64_t>(-100, 100)(rng));
    const std::vector<int32_t> got = layernorm_row(q, p, s_out, zp);
    double mean = 0, var = 0;
    for (int64_t x : q) mean += s_in * x;
    mean /= D;
    for (int64_t x : q) var += (s_in * x - mean) * (s_in * x - mean);
    var /= D;
    for (int64_t c = 0; c < D; ++c) {
      const double y = (s_in * q[c] - mean) / std::sqrt(var + eps) * gamma[c] + beta[c];
      const int32_t want = quantize_linear(static_cast<float>(y), s_out, zp, DType::Int8);
      INFO("D " << D << " channel " << c << " y " << y);
      CHECK(std::abs(got[c] - want) <= 1);
      off_by_one += got[c] != want;
      ++total;
    }
  }
  WARN("layernorm: " << off_by_one << " of " << total << " outputs one step off the float result");
  CHECK(off_by_one * 20 <= total);  // rounding ties of two roundings, a few percent at most
}

TEST_CASE("layernorm_ints refuses what has no integer form", "[quant][transformer]") {
  CHECK_THROWS_AS(layernorm_ints({0.0, 0.0}, {}, 1e-5, 0.1f), Error);
  CHECK_THROWS_AS(layernorm_ints({1.0, std::nan("")}, {}, 1e-5, 0.1f), Error);
  CHECK_THROWS_AS(layernorm_ints({1.0}, {0.0, 0.0}, 1e-5, 0.1f), Error);
  CHECK_THROWS_AS(layernorm_ints({1.0}, {}, 1e-5, 0.0f), Error);
  const LayerNormInts p = layernorm_ints({2.0, -1.0}, {0.5, 0.0}, 1e-5, 0.1f);
  CHECK(p.g == std::vector<int32_t>{32768, -16384});
  CHECK(p.b == std::vector<int32_t>{8192, 0});
  CHECK(p.eps == 0);                                                // 1e-5 * 4 / 0.01 = 0.004 rounds to 0
  CHECK(p.unit / 0.05 == Approx(2.0 / (0.05 * 32768)));             // the requant onto s_out 0.05
  CHECK(layernorm_ints({1.0}, {}, 1e9, 1e-3f).eps == 4294967295u);  // saturated
}
