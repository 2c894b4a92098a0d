// The fused fake-quant kernels against their reference twin (the plain libtorch formulation):
// forward values and input gradients bit-identical, step/alpha gradients equal to rounding, on
// tensors larger than one chunk, with exact ties and saturation on both sides.
#include "qat/fake_quant_fused.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "qat/fake_quant.h"

using namespace tpusim::qat;

namespace {

struct Run {
  torch::Tensor y, dx, dparam;
};

// x: values around the grid, a slice of exact ties (k + 0.5) * s, and far outliers.
torch::Tensor activations(float s, int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor x = torch::randn({n}) * 6 * s;
  x.slice(0, 0, n / 8).copy_((torch::randint(-40, 40, {n / 8}).to(torch::kFloat32) + 0.5f) * s);
  x.slice(0, n / 8, n / 8 + 100).mul_(1000);
  return x.view({n / 252, 4, 7, 9});
}

template <class F>
Run run(FakeQuantKernels k, const torch::Tensor& x0, const torch::Tensor& p0, const F& f) {
  set_fake_quant_kernels(k);
  torch::Tensor x = x0.clone().requires_grad_(true), p = p0.clone().requires_grad_(true);
  torch::Tensor y = f(x, p);
  torch::manual_seed(99);
  y.backward(torch::randn(y.sizes()));
  set_fake_quant_kernels(FakeQuantKernels::Fused);
  return {y.detach(), x.grad(), p.grad()};
}

template <class F>
void compare(const torch::Tensor& x, const torch::Tensor& p, const F& f) {
  const Run a = run(FakeQuantKernels::Fused, x, p, f), b = run(FakeQuantKernels::Reference, x, p, f);
  CHECK(torch::equal(a.y, b.y));
  CHECK(torch::equal(a.dx, b.dx));
  if (b.dparam.defined()) {
    REQUIRE(a.dparam.defined());
    CHECK(torch::allclose(a.dparam, b.dparam, 1e-5, 1e-6));
  }
}

}  // namespace

TEST_CASE("fused fake-quant kernels equal their reference twin") {
  torch::set_num_threads(2);
  const int64_t n = 252 * 700;  // several 32 Ki chunks and a partial one
  for (const float s : {0.0173f, 0.25f, 1.0f / 255.0f}) {
    const torch::Tensor x = activations(s, n, 3);
    INFO("scale " << s);
    SECTION("STE, signed asymmetric and unsigned") {
      for (const auto& [qmin, qmax, zp] :
           {std::tuple{-128, 127, 5}, std::tuple{0, 15, 0}, std::tuple{-2, 1, 0}})
        compare(x, torch::zeros({}), [&](const torch::Tensor& v, const torch::Tensor&) {
          return fake_quant_ste(v, torch::full({1}, s), torch::full({1}, static_cast<float>(zp)), qmin, qmax);
        });
    }
    SECTION("LSQ") {
      for (const auto& [qmin, qmax] : {std::pair{-8, 7}, std::pair{0, 255}, std::pair{0, 3}})
        compare(x, torch::full({1}, s), [&](const torch::Tensor& v, const torch::Tensor& step) {
          return lsq_quant(v, step, qmin, qmax, 0.01);
        });
    }
    SECTION("PACT and DoReFa activations") {
      compare(x, torch::full({1}, 15 * s),
              [&](const torch::Tensor& v, const torch::Tensor& alpha) { return pact_quant(v, alpha, 15); });
      compare(x, torch::zeros({}),
              [&](const torch::Tensor& v, const torch::Tensor&) { return dorefa_activation(v, 3); });
    }
  }
}

TEST_CASE("fused kernels apply only to contiguous float32 CPU tensors") {
  set_fake_quant_kernels(FakeQuantKernels::Fused);
  CHECK(fused::applies(torch::zeros({4, 4})));
  CHECK_FALSE(fused::applies(torch::zeros({4, 4}, torch::kFloat64)));
  CHECK_FALSE(fused::applies(torch::zeros({4, 4}).t()));
  set_fake_quant_kernels(FakeQuantKernels::Reference);
  CHECK_FALSE(fused::applies(torch::zeros({4, 4})));
  set_fake_quant_kernels(FakeQuantKernels::Fused);
}
