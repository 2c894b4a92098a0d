// qat/fake_quant_transformer.h against the compiler's integer reference (compiler/int_kernels_norm.cpp,
// written apart from both isa/ and qat/): on random inputs and grids, the fake-quant forward is
// exactly the dequantized integer result the lowered model computes (the same table, (g, b, eps)
// and requant as lower_transformer.cpp derives); the backward is the float op's gradient.
#include "qat/fake_quant_transformer.h"

#include <catch2/catch.hpp>
#include <random>

#include "compiler/int_graph.h"
#include "compiler/int_kernels.h"
#include "quant/quantize.h"
#include "quant/transformer_params.h"

using namespace tpusim;
using namespace tpusim::compiler;
using tpusim::qat::Grid;

namespace {

RequantSpec per_tensor(double unit, const Grid& out) {
  RequantSpec rq;
  rq.mult.push_back(make_multiplier(unit / static_cast<double>(out.scale)));
  rq.out_zp = out.zero_point;
  rq.clamp_lo = static_cast<int32_t>(traits(out.dtype).qmin);
  rq.clamp_hi = static_cast<int32_t>(traits(out.dtype).qmax);
  return rq;
}

IntValue quantized(const torch::Tensor& x, const Grid& g) {
  IntValue v{Shape(x.sizes().begin(), x.sizes().end()), g.dtype, g.scale, g.zero_point, {}};
  const torch::Tensor f = x.contiguous();
  for (int64_t i = 0; i < f.numel(); ++i)
    v.data.push_back(quantize_linear(f.data_ptr<float>()[i], g.scale, g.zero_point, g.dtype));
  return v;
}

std::vector<float> dequantized(const IntValue& y) {
  std::vector<float> r;
  for (int32_t q : y.data) r.push_back(dequantize_linear(q, y.scale, y.zero_point));
  return r;
}

Grid random_grid(std::mt19937& rng, bool unsigned_ok) {
  const DType types[] = {DType::Int8, DType::UInt8, DType::Int4, DType::UInt4};
  Grid g;
  g.dtype = types[std::uniform_int_distribution<int>(0, unsigned_ok ? 3 : 0)(rng) % 4];
  const DTypeTraits& t = traits(g.dtype);
  g.scale = std::uniform_real_distribution<float>(0.005f, 0.2f)(rng);
  g.zero_point = static_cast<int32_t>(std::uniform_int_distribution<int64_t>(t.qmin, t.qmax)(rng) / 3);
  return g;
}

}  // namespace

TEST_CASE("int_softmax and int_layernorm equal the compiler's integer reference, dequantized",
          "[qat][transformer]") {
  std::mt19937 rng(31);
  torch::manual_seed(3);
  for (int i = 0; i < 40; ++i) {
    INFO("case " << i);
    const int64_t rows = std::uniform_int_distribution<int64_t>(1, 9)(rng);
    const int64_t d = std::uniform_int_distribution<int64_t>(1, 70)(rng);
    const torch::Tensor x =
        torch::randn({2, rows, d}) * std::uniform_real_distribution<float>(0.1f, 3.0f)(rng);
    const Grid in = random_grid(rng, true), out = random_grid(rng, true);
    const IntValue xi = quantized(x, in);
    IntValue want{xi.shape, out.dtype, out.scale, out.zero_point, {}};
    if (i % 2) {
      const torch::Tensor y = qat::int_softmax(x, in, out);
      int_kernels::softmax(ISoftmax{softmax_exp_table(in.scale, in.dtype)},
                           per_tensor(softmax_acc_unit(), out), xi, want);
      const std::vector<float> got(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
      CHECK(got == dequantized(want));
    } else {
      const torch::Tensor gamma = torch::randn({d}), beta = torch::randn({d}) * 0.3;
      const double eps = i % 4 ? 1e-5 : 1e-2;
      const torch::Tensor y = qat::int_layernorm(x, gamma, beta, eps, in, out);
      std::vector<double> gv, bv;
      for (int64_t c = 0; c < d; ++c)
        gv.push_back(gamma[c].item<double>()), bv.push_back(beta[c].item<double>());
      const LayerNormInts p = layernorm_ints(gv, bv, eps, in.scale);
      int_kernels::layer_norm(ILayerNorm{p.g, p.b, p.eps}, per_tensor(p.unit, out), xi, want);
      const std::vector<float> got(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
      CHECK(got == dequantized(want));
    }
  }
}

TEST_CASE("int_softmax and int_layernorm pass the float op's gradient straight through",
          "[qat][transformer]") {
  torch::manual_seed(5);
  const Grid in{0.05f, 0, DType::Int8}, out{1.0f / 255, -128, DType::Int8}, ln_out{0.03f, 2, DType::Int8};
  const torch::Tensor x0 = torch::randn({3, 5, 16});
  const torch::Tensor w = torch::randn({3, 5, 16});
  {
    torch::Tensor x = x0.clone().requires_grad_(true), xf = x0.clone().requires_grad_(true);
    (qat::int_softmax(x, in, out) * w).sum().backward();
    (torch::softmax(xf, -1) * w).sum().backward();
    CHECK(torch::allclose(x.grad(), xf.grad()));
  }
  {
    torch::Tensor x = x0.clone().requires_grad_(true), xf = x0.clone().requires_grad_(true);
    torch::Tensor g = torch::rand({16}).add_(0.5).requires_grad_(true),
                  gf = g.detach().clone().requires_grad_(true);
    torch::Tensor b = torch::zeros({16}).requires_grad_(true), bf = b.detach().clone().requires_grad_(true);
    const torch::Tensor y = qat::int_layernorm(x, g, b, 1e-5, in, ln_out);
    (y * w).sum().backward();
    (torch::layer_norm(xf, {16}, gf, bf, 1e-5, false) * w).sum().backward();
    CHECK(torch::allclose(x.grad(), xf.grad()));
    CHECK(torch::allclose(g.grad(), gf.grad()));
    CHECK(torch::allclose(b.grad(), bf.grad()));
    // And the forward is close to the float op: within about one output step where nothing clips.
    const torch::Tensor yf = torch::layer_norm(x0, {16}, g.detach(), b.detach(), 1e-5, false);
    const torch::Tensor inside = yf.abs() < 3.0;
    CHECK((y.detach() - yf).abs().masked_select(inside).max().item<float>() <= 2.5f * ln_out.scale);
  }
}
