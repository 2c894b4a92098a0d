// QAT fake-quant functions (qat/fake_quant.h). Forward values against tpusim::fake_quantize (the
// shared numerics, written without libtorch) element by element, bit-exact, on every 2..8-bit
// grid, with exact .5 ties and saturation; gradients against the papers' formulas evaluated by
// hand here and against central finite differences in double. Fixed seeds.
#include "qat/fake_quant.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "base/error.h"
#include "quant/calibration.h"
#include "tests/qat/torch_helpers.h"

using namespace tpusim;
using namespace tpusim::qat;
using Catch::Matchers::Contains;
using tpusim::testing::values;

namespace {

torch::Tensor tensor(std::vector<float> v, std::vector<int64_t> shape) {
  return torch::from_blob(v.data(), shape, torch::kFloat).clone();
}

std::vector<QuantSpec> all_specs() {
  std::vector<QuantSpec> specs;
  for (int bits = 2; bits <= 8; ++bits)
    for (QuantSpec s :
         {QuantSpec{bits, true, false}, QuantSpec{bits, true, true}, QuantSpec{bits, false, false}})
      specs.push_back(s);
  return specs;
}

// A scale: mostly random, sometimes a power of two (every (k + 0.5) * 2^e is then an exact tie).
float random_scale(std::mt19937& rng) {
  std::uniform_real_distribution<double> log_s(-9, 3);
  const double s = std::exp(log_s(rng));
  return rng() % 4 == 0 ? std::ldexp(1.0f, std::ilogb(s)) : static_cast<float>(s);
}

// n values for the grid p: a quarter exact ties (x / scale is k + 0.5 in float), the rest uniform
// over the grid widened by 8 steps on each side (saturation), plus a few far outside.
std::vector<float> grid_values(const QuantParams& p, size_t n, std::mt19937& rng, int* ties) {
  const double lo = p.spec.qmin() - p.zero_point - 8, hi = p.spec.qmax() - p.zero_point + 8;
  std::uniform_real_distribution<double> u(lo, hi);
  std::uniform_int_distribution<int> k(static_cast<int>(lo), static_cast<int>(hi));
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    if (i % 4 == 0) {
      const float t = static_cast<float>((k(rng) + 0.5) * p.scale);
      const float quotient = t / p.scale;
      if (quotient - std::floor(quotient) == 0.5f) ++*ties;
      x[i] = t;
    } else {
      x[i] = static_cast<float>(u(rng) * p.scale);
    }
  }
  x[1] = 1e30f * p.scale;
  x[2] = -1e30f * p.scale;
  return x;
}

QuantParams random_params(const QuantSpec& spec, std::mt19937& rng, bool with_zero_point) {
  std::uniform_int_distribution<int32_t> zp(spec.qmin(), spec.qmax());
  return {random_scale(rng), with_zero_point ? zp(rng) : 0, spec};
}

}  // namespace

TEST_CASE("fake_quant_ste: bit-exact with tpusim::fake_quantize, per tensor, ties to even") {
  std::mt19937 rng(11);
  int ties = 0;
  for (const QuantSpec& spec : all_specs()) {
    for (int rep = 0; rep < 6; ++rep) {
      const QuantParams p = random_params(spec, rng, true);
      const std::vector<float> x = grid_values(p, 4096, rng, &ties);
      const std::vector<float> y =
          values(fake_quant_ste(tensor(x, {64, 64}), torch::tensor({p.scale}),
                                torch::tensor({static_cast<float>(p.zero_point)}), spec.qmin(), spec.qmax()));
      for (size_t i = 0; i < x.size(); ++i) {
        INFO("bits " << spec.bits << " signed " << spec.is_signed << " narrow " << spec.narrow << " scale "
                     << p.scale << " zp " << p.zero_point << " x " << x[i]);
        REQUIRE(y[i] == fake_quantize(x[i], p));
        const float quotient = x[i] / p.scale;
        if (quotient - std::floor(quotient) == 0.5f) {  // a tie: the integer must be the even neighbour
          const double q = std::nearbyint(y[i] / p.scale);
          if (q + p.zero_point > spec.qmin() && q + p.zero_point < spec.qmax())
            REQUIRE(std::fmod(q, 2.0) == 0.0);
        }
      }
    }
  }
  REQUIRE(ties > 20000);  // the tie premise held often enough to mean something
}

TEST_CASE("fake_quant_ste: per channel along axis 0 and 1 equals per-element fake_quantize") {
  std::mt19937 rng(12);
  int ties = 0;
  for (const QuantSpec& spec : all_specs()) {
    for (int64_t axis : {0, 1}) {
      const int64_t channels = 5, inner = 257;
      std::vector<QuantParams> ps;
      std::vector<float> scales, zps, x;
      for (int64_t c = 0; c < channels; ++c) {
        ps.push_back(random_params(spec, rng, true));
        scales.push_back(ps.back().scale);
        zps.push_back(static_cast<float>(ps.back().zero_point));
      }
      // axis 0: [C, inner]; axis 1: [inner, C] (channel index varies fastest).
      std::vector<std::vector<float>> per(channels);
      for (int64_t c = 0; c < channels; ++c) per[c] = grid_values(ps[c], inner, rng, &ties);
      for (int64_t i = 0; i < channels * inner; ++i)
        x.push_back(axis == 0 ? per[i / inner][i % inner] : per[i % channels][i / channels]);
      const std::vector<int64_t> shape =
          axis == 0 ? std::vector<int64_t>{channels, inner} : std::vector<int64_t>{inner, channels};
      const std::vector<float> y =
          values(fake_quant_ste(tensor(x, shape), tensor(scales, {channels}), tensor(zps, {channels}),
                                spec.qmin(), spec.qmax(), axis));
      for (int64_t i = 0; i < channels * inner; ++i) {
        const QuantParams& p = ps[axis == 0 ? i / inner : i % channels];
        REQUIRE(y[i] == fake_quantize(x[i], p));
      }
    }
  }
  REQUIRE(ties > 1000);
}

TEST_CASE("lsq_quant, pact_quant, dorefa: forward bit-exact with tpusim::fake_quantize") {
  std::mt19937 rng(13);
  int ties = 0;
  for (const QuantSpec& spec : all_specs()) {
    // LSQ: zero point 0, per tensor and per channel (axis 0).
    const QuantParams p = random_params(spec, rng, false);
    const std::vector<float> x = grid_values(p, 2048, rng, &ties);
    std::vector<float> y =
        values(lsq_quant(tensor(x, {2048}), torch::tensor({p.scale}), spec.qmin(), spec.qmax(), 1));
    for (size_t i = 0; i < x.size(); ++i) REQUIRE(y[i] == fake_quantize(x[i], p));
    const QuantParams p2 = random_params(spec, rng, false);
    y = values(
        lsq_quant(tensor(x, {2, 1024}), torch::tensor({p.scale, p2.scale}), spec.qmin(), spec.qmax(), 1, 0));
    for (size_t i = 0; i < x.size(); ++i) REQUIRE(y[i] == fake_quantize(x[i], i < 1024 ? p : p2));
    if (spec.is_signed) continue;

    // PACT: the unsigned grid of scale alpha / qmax, and the paper's clip-then-quantize.
    const auto alpha =
        static_cast<float>(p.scale * spec.qmax() * std::uniform_real_distribution<double>(0.5, 1)(rng));
    const QuantParams pa{alpha / static_cast<float>(spec.qmax()), 0, spec};
    std::vector<float> xa = grid_values(pa, 2048, rng, &ties);
    xa[3] = alpha;
    y = values(pact_quant(tensor(xa, {2048}), torch::tensor({alpha}), spec.qmax()));
    for (size_t i = 0; i < xa.size(); ++i) {
      REQUIRE(y[i] == fake_quantize(xa[i], pa));
      REQUIRE(y[i] == fake_quantize(std::clamp(xa[i], 0.0f, alpha), pa));
    }

    // DoReFa activations: the unsigned grid of scale 1 / qmax on clip(x, 0, 1).
    const QuantParams pd{1.0f / static_cast<float>(spec.qmax()), 0, spec};
    const std::vector<float> xd = grid_values(pd, 2048, rng, &ties);
    y = values(dorefa_activation(tensor(xd, {2048}), spec.qmax()));
    for (size_t i = 0; i < xd.size(); ++i) {
      REQUIRE(y[i] == fake_quantize(xd[i], pd));
      REQUIRE(y[i] == fake_quantize(std::clamp(xd[i], 0.0f, 1.0f), pd));
    }

    // DoReFa weights: tanh(w) / max|tanh(w)| (checked against std::tanh), then the narrow signed
    // grid of scale 1 / qmax, qmax of the signed grid with these bits.
    const QuantSpec ws{spec.bits, true, true};
    torch::manual_seed(static_cast<uint64_t>(spec.bits));
    const torch::Tensor w = torch::randn({8, 64}) * 0.7;
    const std::vector<float> wv = values(w);
    double tmax = 0;
    for (float v : wv) tmax = std::max(tmax, std::fabs(std::tanh(static_cast<double>(v))));
    const std::vector<float> wn = values(torch::tanh(w) / torch::tanh(w).abs().max());
    y = values(dorefa_weight(w, ws.qmax()));
    const QuantParams pw{1.0f / static_cast<float>(ws.qmax()), 0, ws};
    for (size_t i = 0; i < wv.size(); ++i) {
      REQUIRE(wn[i] == Approx(std::tanh(static_cast<double>(wv[i])) / tmax).margin(1e-6));
      REQUIRE(y[i] == fake_quantize(wn[i], pw));
    }
  }
  REQUIRE(ties > 3000);
}

TEST_CASE("fake_quant_ste gradient: the clipped STE mask, nothing to scale or zero point") {
  std::mt19937 rng(21);
  std::normal_distribution<float> gauss;
  for (const QuantSpec& spec : all_specs()) {
    int ties = 0;
    const QuantParams p = random_params(spec, rng, true);
    const std::vector<float> xv = grid_values(p, 1024, rng, &ties);
    std::vector<float> gv(xv.size());
    for (float& g : gv) g = gauss(rng);
    const torch::Tensor x = tensor(xv, {1024}).requires_grad_(true);
    const torch::Tensor s = torch::tensor({p.scale}).requires_grad_(true);
    const torch::Tensor zp = torch::tensor({static_cast<float>(p.zero_point)}).requires_grad_(true);
    (fake_quant_ste(x, s, zp, spec.qmin(), spec.qmax()) * tensor(gv, {1024})).sum().backward();
    const std::vector<float> dx = values(x.grad());
    for (size_t i = 0; i < xv.size(); ++i) {
      const double r = std::nearbyint(xv[i] / p.scale) + p.zero_point;  // float quotient, as the hardware
      REQUIRE(dx[i] == (r >= spec.qmin() && r <= spec.qmax() ? gv[i] : 0.0f));
    }
    REQUIRE_FALSE(s.grad().defined());
    REQUIRE_FALSE(zp.grad().defined());
  }
}

TEST_CASE("lsq_quant gradient: Esser et al. eq. 3 times grad_scale, per tensor and per channel") {
  std::mt19937 rng(22);
  std::normal_distribution<float> gauss;
  for (const QuantSpec& spec :
       {QuantSpec{4, true, false}, QuantSpec{8, true, true}, QuantSpec{3, false, false}}) {
    const int64_t channels = 3, inner = 400;
    std::vector<float> steps, xv, gv;
    for (int64_t c = 0; c < channels; ++c) {
      int ties = 0;
      const QuantParams p = random_params(spec, rng, false);
      steps.push_back(p.scale);
      for (float v : grid_values(p, inner, rng, &ties)) xv.push_back(v);
    }
    xv[5] = steps[0] * static_cast<float>(spec.qmax());  // exactly on the boundaries
    xv[6] = steps[0] * static_cast<float>(spec.qmin());
    for (size_t i = 0; i < xv.size(); ++i) gv.push_back(gauss(rng));
    const double grad_scale = 1.0 / std::sqrt(static_cast<double>(inner) * spec.qmax());
    for (bool per_channel : {false, true}) {
      const torch::Tensor x = tensor(xv, {channels, inner}).requires_grad_(true);
      const torch::Tensor s =
          (per_channel ? tensor(steps, {channels}) : torch::tensor({steps[0]})).requires_grad_(true);
      (lsq_quant(x, s, spec.qmin(), spec.qmax(), grad_scale, per_channel ? 0 : -1) *
       tensor(gv, {channels, inner}))
          .sum()
          .backward();
      const std::vector<float> dx = values(x.grad()), ds = values(s.grad());
      std::vector<double> ds_ref(per_channel ? channels : 1, 0.0);
      for (size_t i = 0; i < xv.size(); ++i) {
        const size_t c = per_channel ? i / inner : 0;
        const float v = xv[i] / steps[c];
        const bool below = v <= spec.qmin(), above = v >= spec.qmax();
        REQUIRE(dx[i] == (below || above ? 0.0f : gv[i]));
        const double dv = below   ? spec.qmin()
                          : above ? spec.qmax()
                                  : std::nearbyint(v) - static_cast<double>(v);
        ds_ref[c] += gv[i] * dv;
      }
      for (size_t c = 0; c < ds_ref.size(); ++c)
        REQUIRE(ds[c] == Approx(ds_ref[c] * grad_scale).epsilon(1e-4).margin(1e-5));
    }
  }
}

TEST_CASE("pact_quant gradient: d/dalpha sums the upstream gradient where x >= alpha") {
  std::mt19937 rng(23);
  std::normal_distribution<double> gauss;
  const int64_t qmax = 15, n = 2000;
  const double alpha = 1.75;
  std::vector<double> xv(n), gv(n);
  for (int64_t i = 0; i < n; ++i) {
    xv[i] = 1.2 * gauss(rng);
    gv[i] = gauss(rng);
  }
  xv[0] = alpha;  // the boundaries: x = alpha clips, x = 0 passes
  xv[1] = 0;
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  const torch::Tensor x = torch::tensor(xv, opts).requires_grad_(true);
  const torch::Tensor a = torch::tensor({alpha}, opts).requires_grad_(true);
  (pact_quant(x, a, qmax) * torch::tensor(gv, opts)).sum().backward();
  const auto dx = x.grad().contiguous();
  double da_ref = 0;
  int clipped = 0;
  for (int64_t i = 0; i < n; ++i) {
    REQUIRE(dx[i].item<double>() == (xv[i] >= 0 && xv[i] < alpha ? gv[i] : 0.0));
    if (xv[i] >= alpha) da_ref += gv[i], ++clipped;
  }
  REQUIRE(clipped > 50);
  REQUIRE(a.grad().item<double>() == Approx(da_ref).epsilon(1e-12));
  // With rounding removed PACT is clip(x, 0, alpha): d/dalpha is its central finite difference
  // (every x moved away from the kink at alpha first).
  xv[0] = alpha + 1;
  const torch::Tensor a2 = torch::tensor({alpha}, opts).requires_grad_(true);
  (pact_quant(torch::tensor(xv, opts), a2, qmax) * torch::tensor(gv, opts)).sum().backward();
  auto clip_loss = [&](double al) {
    double l = 0;
    for (int64_t i = 0; i < n; ++i) l += gv[i] * std::clamp(xv[i], 0.0, al);
    return l;
  };
  const double h = 1e-7;
  REQUIRE(a2.grad().item<double>() ==
          Approx((clip_loss(alpha + h) - clip_loss(alpha - h)) / (2 * h)).epsilon(1e-6));
}

TEST_CASE("dorefa gradients: autograd through tanh and max, STE through the rounding") {
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  torch::manual_seed(5);
  torch::Tensor w = torch::rand({4, 6}, opts) * 3 - 1.5;
  w[2][3] = 2.5;  // a unique max|tanh(w)|, far from ties, so the max is differentiable
  const torch::Tensor g = torch::randn({4, 6}, opts);
  const int64_t qmax = 7;
  const torch::Tensor wq = w.clone().requires_grad_(true);
  const torch::Tensor y = dorefa_weight(wq, qmax);
  (y * g).sum().backward();
  const torch::Tensor dw = wq.grad();
  // The smooth part tanh(w) / max|tanh(w)| written here with std::tanh; central differences.
  std::vector<double> wv(w.data_ptr<double>(), w.data_ptr<double>() + 24),
      gv(g.data_ptr<double>(), g.data_ptr<double>() + 24);
  auto loss = [&](const std::vector<double>& v) {
    double m = 0, l = 0;
    for (double e : v) m = std::max(m, std::fabs(std::tanh(e)));
    for (size_t i = 0; i < v.size(); ++i) l += gv[i] * std::tanh(v[i]) / m;
    return l;
  };
  const double h = 1e-6;
  for (size_t i = 0; i < wv.size(); ++i) {
    std::vector<double> up = wv, down = wv;
    up[i] += h;
    down[i] -= h;
    REQUIRE(dw.view(-1)[static_cast<int64_t>(i)].item<double>() ==
            Approx((loss(up) - loss(down)) / (2 * h)).margin(1e-7));
  }
  // The forward did round (not the identity), yet the gradient is the smooth part's exactly.
  REQUIRE((y - torch::tanh(w) / torch::tanh(w).abs().max()).abs().max().item<double>() > 1e-3);
  const torch::Tensor ws = w.clone().requires_grad_(true);
  ((torch::tanh(ws) / torch::tanh(ws).abs().max()) * g).sum().backward();
  REQUIRE(torch::allclose(ws.grad(), dw, 1e-12, 1e-15));  // equal up to summation order

  // Activations: STE inside [0, 1] (both ends included), 0 outside.
  // -0.02 and 1.02 round onto the grid (within half a step), yet lie outside [0, 1].
  const torch::Tensor x =
      torch::tensor({-0.5, -0.02, 0.0, 0.3, 0.5, 1.0, 1.02, 1.2}, opts).requires_grad_(true);
  dorefa_activation(x, 15).sum().backward();
  REQUIRE(torch::equal(x.grad(), torch::tensor({0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0}, opts)));
}

TEST_CASE("fake-quant functions: shape and grid errors name the function and parameter") {
  const torch::Tensor x = torch::zeros({4, 3});
  REQUIRE_THROWS_WITH(fake_quant_ste(x, torch::ones({3}), torch::zeros({3}), -128, 127),
                      Contains("fake_quant_ste") && Contains("scale") && Contains("one element"));
  REQUIRE_THROWS_WITH(fake_quant_ste(x, torch::ones({3}), torch::zeros({3}), -128, 127, 0),
                      Contains("scale has 3 elements") && Contains("size 4"));
  REQUIRE_THROWS_WITH(lsq_quant(x, torch::ones({4}), -8, 7, 1.0, 2),
                      Contains("lsq_quant") && Contains("step"));
  REQUIRE_THROWS_WITH(pact_quant(x, torch::ones({2}), 15), Contains("pact_quant") && Contains("alpha"));
  REQUIRE_THROWS_WITH(fake_quant_ste(x, torch::ones({1}), torch::zeros({1}), 1, 7), Contains("[1, 7]"));
  REQUIRE_NOTHROW(fake_quant_ste(x, torch::ones({4}), torch::zeros({4}), -8, 7, 0));
}
