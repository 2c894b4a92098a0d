// Quantizer modules (qat/quantizer.h): EMA recurrence, freezing, observation and calibration,
// LSQ/PACT initialisation and gradients, errors, torch::save/load, weight export, and a tiny QAT
// fit. References: hand-computed recurrences and formulas, and the shared numerics of
// quant/calibration.h (params_from_range, fake_quantize, per_channel_weight_scales).
#include "qat/quantizer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <sstream>
#include <vector>

#include "base/error.h"
#include "tests/qat/torch_helpers.h"

using namespace tpusim;
using namespace tpusim::qat;
using Catch::Matchers::Contains;
using tpusim::testing::values;

namespace {

void require_same(const QuantParams& a, const QuantParams& b) {
  REQUIRE(a.scale == b.scale);
  REQUIRE(a.zero_point == b.zero_point);
  REQUIRE(a.spec.bits == b.spec.bits);
  REQUIRE(a.spec.is_signed == b.spec.is_signed);
}

// y equals tpusim::fake_quantize(x, p) element by element.
void require_fake_quantized(const torch::Tensor& x, const torch::Tensor& y, const QuantParams& p) {
  const std::vector<float> xv = values(x), yv = values(y);
  for (size_t i = 0; i < xv.size(); ++i) REQUIRE(yv[i] == fake_quantize(xv[i], p));
}

double buffer(torch::nn::Module& m, const std::string& key) { return m.named_buffers()[key].item<double>(); }

}  // namespace

TEST_CASE("quantizer algorithm names round-trip") {
  for (Algo a : {Algo::Ema, Algo::Lsq, Algo::Pact, Algo::Dorefa, Algo::Fixed})
    REQUIRE(algo_from_name(name(a)) == a);
  REQUIRE_FALSE(algo_from_name("minmax").has_value());
}

TEST_CASE("ActQuantizer ema: the range follows the EMA recurrence in training, frozen in eval") {
  for (QuantSpec spec : {QuantSpec{8, true, false}, QuantSpec{4, false, false}}) {
    ObserverOptions obs;
    obs.ema_decay = 0.9;
    ActQuantizer q("block1.out", Algo::Ema, spec, obs);
    q->set_mode(QuantMode::Quantize);
    q->train();
    torch::manual_seed(3);
    double lo = 0, hi = 0;
    for (int b = 0; b < 6; ++b) {
      const torch::Tensor x = torch::randn({16, 8}) * (1 + b) + 0.3 * b;
      const std::vector<float> xv = values(x);
      const double bmin = *std::min_element(xv.begin(), xv.end()),
                   bmax = *std::max_element(xv.begin(), xv.end());
      lo = b == 0 ? bmin : 0.9 * lo + (1 - 0.9) * bmin;
      hi = b == 0 ? bmax : 0.9 * hi + (1 - 0.9) * bmax;
      const torch::Tensor y = q->forward(x);
      REQUIRE(buffer(*q, "lo") == lo);
      REQUIRE(buffer(*q, "hi") == hi);
      const QuantParams p = params_from_range(lo, hi, spec, !spec.is_signed);
      require_same(q->params(), p);
      require_fake_quantized(x, y, p);
    }
    q->eval();
    const QuantParams frozen = q->params();
    const torch::Tensor big = torch::randn({16, 8}) * 100;
    require_fake_quantized(big, q->forward(big), frozen);
    REQUIRE(buffer(*q, "lo") == lo);
    REQUIRE(buffer(*q, "hi") == hi);
    q->set_mode(QuantMode::Off);
    REQUIRE(torch::equal(q->forward(big), big));
  }
}

TEST_CASE("ActQuantizer observe mode: identity, feeds the observer; calibrate() with minmax") {
  const QuantSpec spec{8, true, false};
  for (Algo algo : {Algo::Fixed, Algo::Ema}) {
    ActQuantizer q("conv2.out", algo, spec);
    REQUIRE_THROWS_WITH(q->calibrate({}), Contains("conv2.out"));
    q->set_mode(QuantMode::Observe);
    torch::manual_seed(4);
    double mn = INFINITY, mx = -INFINITY;
    for (int b = 0; b < 3; ++b) {
      const torch::Tensor x = torch::randn({32, 4}) * 2 + 0.5;
      REQUIRE(torch::equal(q->forward(x), x));
      mn = std::min(mn, x.min().item<double>());
      mx = std::max(mx, x.max().item<double>());
    }
    REQUIRE(q->observer()->count() == 3 * 128);
    REQUIRE(q->observer()->min() == mn);
    REQUIRE(q->observer()->max() == mx);
    REQUIRE_FALSE(q->initialized());
    CalibOptions opt;
    opt.method = CalibMethod::MinMax;
    opt.symmetric = false;
    q->calibrate(opt);
    REQUIRE(q->initialized());
    const QuantParams p = params_from_range(mn, mx, spec, false);
    require_same(q->params(), p);
    q->set_mode(QuantMode::Quantize);
    q->eval();
    const torch::Tensor x = torch::randn({64}) * 3;
    require_fake_quantized(x, q->forward(x), p);
  }
  // An unsigned ema quantizer is symmetric whatever the options ask.
  ActQuantizer u("relu.out", Algo::Ema, QuantSpec{8, false, false});
  u->set_mode(QuantMode::Observe);
  u->forward(torch::tensor({-1.0f, 0.5f, 3.0f}));
  CalibOptions opt;
  opt.symmetric = false;
  u->calibrate(opt);
  require_same(u->params(), params_from_range(-1, 3, QuantSpec{8, false, false}, true));
}

TEST_CASE("ActQuantizer: params() before initialisation throws naming the tensor; set_params round-trips") {
  for (Algo a : {Algo::Ema, Algo::Lsq, Algo::Pact, Algo::Fixed}) {
    ActQuantizer q("stem.relu", a, QuantSpec{4, false, false});
    REQUIRE_FALSE(q->initialized());
    REQUIRE_THROWS_AS(q->params(), Error);
    REQUIRE_THROWS_WITH(q->params(), Contains("stem.relu"));
  }
  ActQuantizer fixed("fc.out", Algo::Fixed, QuantSpec{8, true, false});
  fixed->set_mode(QuantMode::Quantize);
  REQUIRE_THROWS_WITH(fixed->forward(torch::ones({2})), Contains("fc.out") && Contains("calibrate"));
  ActQuantizer dorefa("d.out", Algo::Dorefa, QuantSpec{4, false, false});
  REQUIRE(dorefa->initialized());
  require_same(dorefa->params(), QuantParams{1.0f / 15, 0, QuantSpec{4, false, false}});
  REQUIRE(ActQuantizer("s", Algo::Pact, QuantSpec{8, true, false})->algo() == Algo::Ema);

  std::mt19937 rng(7);
  std::uniform_real_distribution<double> log_s(-12, 4);
  int exact_pact = 0;
  for (int i = 0; i < 300; ++i) {
    const int bits = 2 + i % 7;
    const auto scale = static_cast<float>(std::exp(log_s(rng)));
    const QuantSpec sgn{bits, true, i % 2 == 0}, uns{bits, false, false};
    std::uniform_int_distribution<int32_t> zp(sgn.qmin(), sgn.qmax()), zpu(0, uns.qmax());
    const std::vector<std::pair<Algo, QuantParams>> cases{
        {Algo::Fixed, {scale, zp(rng), sgn}}, {Algo::Fixed, {scale, zpu(rng), uns}},
        {Algo::Ema, {scale, zp(rng), sgn}},   {Algo::Ema, {scale, 0, uns}},
        {Algo::Lsq, {scale, 0, sgn}},         {Algo::Pact, {scale, 0, uns}}};
    for (const auto& [algo, p] : cases) {
      ActQuantizer q("t", algo, p.spec);
      q->set_params(p);
      INFO(name(algo) << " bits " << bits << " scale " << scale << " zp " << p.zero_point);
      if (algo == Algo::Pact) {  // alpha / qmax: exact when such a float alpha exists, else 1 ulp
        const float got = q->params().scale;
        exact_pact += got == scale;
        REQUIRE(std::fabs(got - scale) <= std::nextafter(scale, INFINITY) - scale);
      } else {
        require_same(q->params(), p);
      }
    }
  }
  REQUIRE(exact_pact > 200);
  ActQuantizer lsq("l1.out", Algo::Lsq, QuantSpec{8, true, false});
  REQUIRE_THROWS_WITH(lsq->set_params({0.1f, 3, QuantSpec{8, true, false}}), Contains("l1.out"));
  REQUIRE_THROWS_WITH(lsq->set_params({0.1f, 0, QuantSpec{4, true, false}}), Contains("l1.out"));
}

TEST_CASE("LSQ: initial step 2<|x|>/sqrt(Qp), gradient scale 1/sqrt(N Qp) in the modules") {
  const QuantSpec spec{4, true, false};
  const double qp = spec.qmax();
  torch::manual_seed(8);
  ActQuantizer q("act", Algo::Lsq, spec);
  q->set_mode(QuantMode::Quantize);
  const torch::Tensor x = torch::randn({8, 3, 5, 5});
  const torch::Tensor g = torch::randn({8, 3, 5, 5});
  (q->forward(x) * g).sum().backward();
  const std::vector<float> xv = values(x), gv = values(g);
  double mean_abs = 0;
  for (float v : xv) mean_abs += std::fabs(v) / static_cast<double>(xv.size());
  const float s = q->named_parameters()["step"].item<float>();
  REQUIRE(s == Approx(2 * mean_abs / std::sqrt(qp)).epsilon(1e-6));
  double ds = 0;  // Esser et al. eq. 3, N = 75 features per example
  for (size_t i = 0; i < xv.size(); ++i) {
    const float v = xv[i] / s;
    ds += gv[i] * (v <= spec.qmin() ? spec.qmin()
                   : v >= qp        ? qp
                                    : std::nearbyint(v) - static_cast<double>(v));
  }
  REQUIRE(q->named_parameters()["step"].grad().item<double>() ==
          Approx(ds / std::sqrt(75 * qp)).epsilon(1e-4));

  // Weights: one step per output channel, N = elements per channel.
  WeightQuantizer wq("conv.w", Algo::Lsq, QuantSpec{4, true, true}, 4);
  wq->set_mode(QuantMode::Quantize);
  const torch::Tensor w = torch::randn({4, 2, 3, 3});
  const torch::Tensor gw = torch::randn({4, 2, 3, 3});
  (wq->forward(w) * gw).sum().backward();
  const torch::Tensor steps = wq->named_parameters()["step"];
  const std::vector<float> wv = values(w), gwv = values(gw), sv = values(steps), dsv = values(steps.grad());
  for (size_t c = 0; c < 4; ++c) {
    double ma = 0, dsc = 0;
    for (size_t i = c * 18; i < (c + 1) * 18; ++i) ma += std::fabs(wv[i]) / 18;
    REQUIRE(sv[c] == Approx(2 * ma / std::sqrt(qp)).epsilon(1e-6));
    for (size_t i = c * 18; i < (c + 1) * 18; ++i) {
      const float v = wv[i] / sv[c];
      dsc += gwv[i] * (v <= -qp ? -qp : v >= qp ? qp : std::nearbyint(v) - static_cast<double>(v));
    }
    REQUIRE(dsv[c] == Approx(dsc / std::sqrt(18 * qp)).epsilon(1e-4).margin(1e-6));
  }
}

TEST_CASE("PACT: initial alpha is the batch max; L2 regularizer and its gradient") {
  const QuantSpec spec{4, false, false};
  ActQuantizer q("relu1", Algo::Pact, spec);
  q->set_mode(QuantMode::Quantize);
  torch::manual_seed(9);
  const torch::Tensor x = torch::relu(torch::randn({32, 16}));
  const torch::Tensor y = q->forward(x);
  const torch::Tensor alpha = q->named_parameters()["alpha"];
  REQUIRE(alpha.item<float>() == x.max().item<float>());
  REQUIRE(q->params().scale == alpha.item<float>() / 15.0f);
  require_fake_quantized(x, y, q->params());
  const double lambda = 0.01;
  const torch::Tensor r = q->regularizer(lambda);
  REQUIRE(r.item<double>() == Approx(lambda * std::pow(alpha.item<double>(), 2)).epsilon(1e-6));
  r.backward();
  REQUIRE(alpha.grad().item<double>() == Approx(2 * lambda * alpha.item<double>()).epsilon(1e-6));
  REQUIRE(ActQuantizer("e", Algo::Ema, spec)->regularizer(lambda).item<double>() == 0);
}

TEST_CASE("torch::save / torch::load of a module holding quantizers restores their state") {
  struct Holder : torch::nn::Module {
    ActQuantizer ema{nullptr}, lsq{nullptr}, pact{nullptr};
    WeightQuantizer w{nullptr};
    Holder() {
      ema = register_module("ema", ActQuantizer("a", Algo::Ema, QuantSpec{8, true, false}));
      lsq = register_module("lsq", ActQuantizer("b", Algo::Lsq, QuantSpec{4, true, false}));
      pact = register_module("pact", ActQuantizer("c", Algo::Pact, QuantSpec{4, false, false}));
      w = register_module("w", WeightQuantizer("d", Algo::Lsq, QuantSpec{4, true, true}, 3));
    }
  };
  auto trained = std::make_shared<Holder>();
  for (auto* q : {&trained->ema, &trained->lsq, &trained->pact}) (*q)->set_mode(QuantMode::Quantize);
  trained->w->set_mode(QuantMode::Quantize);
  torch::manual_seed(10);
  for (int b = 0; b < 3; ++b)
    for (auto* q : {&trained->ema, &trained->lsq, &trained->pact}) (*q)->forward(torch::randn({4, 10}) + b);
  const torch::Tensor weight = torch::randn({3, 5});
  trained->w->forward(weight);
  std::stringstream file;
  torch::save(trained, file);

  auto loaded = std::make_shared<Holder>();
  REQUIRE_FALSE(loaded->lsq->initialized());
  torch::load(loaded, file);
  for (auto [a, b] :
       {std::pair{trained->ema, loaded->ema}, {trained->lsq, loaded->lsq}, {trained->pact, loaded->pact}}) {
    REQUIRE(b->initialized());
    require_same(b->params(), a->params());
  }
  const auto ta = trained->named_parameters(), la = loaded->named_parameters();
  REQUIRE(ta.size() == 3);  // lsq.step, pact.alpha, w.step
  for (const auto& item : ta) REQUIRE(torch::equal(item.value(), la[item.key()]));
  const auto tb = trained->named_buffers(), lb = loaded->named_buffers();
  REQUIRE(tb.size() == 6);  // ema.lo/hi/initialized, lsq/pact/w initialized
  for (const auto& item : tb) REQUIRE(torch::equal(item.value(), lb[item.key()]));
  REQUIRE(loaded->w->quantize(weight).scales == trained->w->quantize(weight).scales);
}

TEST_CASE("WeightQuantizer: quantize() values lie on the grid of its scales and equal forward()") {
  torch::manual_seed(12);
  const torch::Tensor w = torch::randn({6, 3, 3, 3}) * torch::linspace(0.1, 2, 6).view({6, 1, 1, 1});
  for (QuantSpec spec : {QuantSpec{4, true, true}, QuantSpec{8, true, false}, QuantSpec{3, true, false}}) {
    for (Algo algo : {Algo::Ema, Algo::Fixed, Algo::Pact, Algo::Lsq, Algo::Dorefa}) {
      WeightQuantizer q("conv1.weight", algo, spec, 6);
      REQUIRE(torch::equal(q->forward(w), w));  // Off mode
      q->set_mode(QuantMode::Quantize);
      const torch::Tensor f = q->forward(w);
      const WeightQuantizerImpl::Quantized z = q->quantize(w);
      REQUIRE(torch::equal(f.detach(), z.values));
      REQUIRE(z.scales.size() == 6);
      if (algo == Algo::Ema || algo == Algo::Fixed || algo == Algo::Pact)
        REQUIRE(z.scales == per_channel_weight_scales(values(w), 6, spec, "conv1.weight"));
      const std::vector<float> v = values(z.values);
      for (size_t i = 0; i < v.size(); ++i) {
        const float s = z.scales[i / 27];
        const double qv = std::nearbyint(v[i] / s);
        INFO(name(algo) << " bits " << spec.bits << " element " << i);
        REQUIRE(std::fabs(v[i] / s - qv) < 1e-3);
        REQUIRE(qv >= spec.qmin());
        REQUIRE(qv <= spec.qmax());
        REQUIRE(static_cast<float>(qv) * s == v[i]);  // exactly q * s: what the exporter writes
      }
    }
  }
  REQUIRE_THROWS_WITH(WeightQuantizer("fc.weight", Algo::Ema, QuantSpec{8, false, false}, 2),
                      Contains("fc.weight"));
  WeightQuantizer q("fc.weight", Algo::Ema, QuantSpec{8, true, false}, 4);
  REQUIRE_THROWS_WITH(q->quantize(torch::ones({3, 2})), Contains("fc.weight"));
}

TEST_CASE("a tiny QAT fit of y = x through 4-bit LSQ and PACT quantizers") {
  torch::manual_seed(13);
  // LSQ: the first step moves by -lr times the hand-computed gradient; the loss then drops.
  const torch::Tensor x = torch::randn({64, 64});
  const double kLr = 2.0;
  ActQuantizer lsq("fit.lsq", Algo::Lsq, QuantSpec{4, true, false});
  lsq->set_mode(QuantMode::Quantize);
  torch::optim::SGD opt(lsq->parameters(), torch::optim::SGDOptions(kLr));
  const torch::Tensor step = lsq->named_parameters()["step"];
  const torch::Tensor y0 = lsq->forward(x);  // initialises the step
  const torch::Tensor loss0 = (y0 - x).square().mean();
  loss0.backward();
  const double s_init = step.item<double>();
  const std::vector<float> xv = values(x), y0v = values(y0);
  double ds = 0;  // dL/ds = sum dL/dy * dy/ds (Esser et al.), times 1/sqrt(64 features * Qp)
  for (size_t i = 0; i < xv.size(); ++i) {
    const float v = xv[i] / static_cast<float>(s_init);
    const double dv = v <= -8 ? -8.0 : v >= 7 ? 7.0 : std::nearbyint(v) - static_cast<double>(v);
    ds += 2.0 * (y0v[i] - xv[i]) / static_cast<double>(xv.size()) * dv;
  }
  ds /= std::sqrt(64.0 * 7);
  REQUIRE(step.grad().item<double>() == Approx(ds).epsilon(1e-4));
  REQUIRE(ds > 0);  // 2<|x|>/sqrt(7) ~ 0.6 is coarser than the MSE-optimal step for N(0, 1)
  opt.step();
  REQUIRE(step.item<double>() == Approx(s_init - kLr * ds).epsilon(1e-6));
  double loss = 0;
  for (int i = 0; i < 60; ++i) {
    opt.zero_grad();
    const torch::Tensor l = (lsq->forward(x) - x).square().mean();
    l.backward();
    opt.step();
    loss = l.item<double>();
  }
  // It settles near the MSE-optimal 16-level uniform step for N(0, 1), 0.3352 (Max 1960).
  REQUIRE(step.item<double>() == Approx(0.335).margin(0.03));
  REQUIRE(loss < 0.4 * loss0.item<double>());

  // PACT from a too-small alpha: clipped x >= alpha pulls alpha up, by the summed gradient.
  const torch::Tensor xp = torch::rand({64, 64}) * 2;
  ActQuantizer pact("fit.pact", Algo::Pact, QuantSpec{4, false, false});
  pact->set_mode(QuantMode::Quantize);
  pact->set_params({0.5f / 15, 0, QuantSpec{4, false, false}});
  const torch::Tensor alpha = pact->named_parameters()["alpha"];
  const torch::Tensor y = pact->forward(xp);
  const torch::Tensor ploss0 = (y - xp).square().mean();
  ploss0.backward();
  const std::vector<float> xpv = values(xp), yv = values(y);
  double da = 0;
  for (size_t i = 0; i < xpv.size(); ++i)
    if (xpv[i] >= alpha.item<float>()) da += 2.0 * (yv[i] - xpv[i]) / static_cast<double>(xpv.size());
  REQUIRE(alpha.grad().item<double>() == Approx(da).epsilon(1e-5));
  REQUIRE(da < 0);
  torch::optim::SGD popt(pact->parameters(), torch::optim::SGDOptions(0.5));
  double pl = 0;
  for (int i = 0; i < 40; ++i) {
    popt.zero_grad();
    const torch::Tensor l = (pact->forward(xp) - xp).square().mean();
    l.backward();
    popt.step();
    pl = l.item<double>();
  }
  REQUIRE(alpha.item<float>() > 1.5f);
  REQUIRE(pl < 0.2 * ploss0.item<double>());
}
