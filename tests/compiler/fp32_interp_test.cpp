// The FP32 interpreter: kernels against naive twins written here, hand-computed cases, QDQ
// semantics (isa/numerics.h), input checking and speed.
#include "compiler/fp32_interp.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "base/error.h"
#include "compiler/fp32_kernels.h"
#include "compiler/onnx_import.h"
#include "isa/numerics.h"
#include "quant/quantize.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {
TensorMap one_input(const Graph& g, std::vector<float> v) {
  return {{"x", make_f32("x", g.tensor("x").shape, std::move(v))}};
}

// Direct definition of ONNX Conv, one output element at a time.
std::vector<float> conv_ref(const std::vector<float>& x, const Shape& xs, const std::vector<float>& w,
                            const Shape& ws, const std::vector<float>& b, const ConvAttrs& a,
                            const Shape& ys) {
  std::vector<float> y(static_cast<size_t>(num_elements(ys)));
  const int64_t cg = ws[1], mg = ws[0] / a.group;
  size_t o = 0;
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t m = 0; m < ys[1]; ++m)
      for (int64_t oh = 0; oh < ys[2]; ++oh)
        for (int64_t ow = 0; ow < ys[3]; ++ow) {
          double acc = b.empty() ? 0.0 : b[m];
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t kh = 0; kh < ws[2]; ++kh)
              for (int64_t kw = 0; kw < ws[3]; ++kw) {
                const int64_t ih = oh * a.strides[0] - a.pads[0] + kh * a.dilations[0];
                const int64_t iw = ow * a.strides[1] - a.pads[1] + kw * a.dilations[1];
                if (ih < 0 || iw < 0 || ih >= xs[2] || iw >= xs[3]) continue;
                const int64_t c = (m / mg) * cg + ci;
                acc += double(x[((n * xs[1] + c) * xs[2] + ih) * xs[3] + iw]) *
                       w[((m * cg + ci) * ws[2] + kh) * ws[3] + kw];
              }
          y[o++] = static_cast<float>(acc);
        }
  return y;
}
}  // namespace

TEST_CASE("conv2d equals the direct definition over random configurations", "[compiler][interp]") {
  std::mt19937 rng(42);
  auto pick = [&](int lo, int hi) {
    return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng));
  };
  for (int trial = 0; trial < 200; ++trial) {
    ConvAttrs a;
    a.group = std::vector<int64_t>{1, 1, 2, 3}[pick(0, 3)];
    const int64_t cg = pick(1, 3), mg = pick(1, 3);
    const Shape xs{pick(1, 2), cg * a.group, pick(3, 9), pick(3, 9)};
    const Shape ws{mg * a.group, cg, pick(1, 3), pick(1, 3)};
    a.kernel = {ws[2], ws[3]};
    a.strides = {pick(1, 3), pick(1, 3)};
    a.dilations = {pick(1, 2), pick(1, 2)};
    a.pads = {pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)};
    const int64_t oh = (xs[2] + a.pads[0] + a.pads[2] - a.dilations[0] * (ws[2] - 1) - 1) / a.strides[0] + 1;
    const int64_t ow = (xs[3] + a.pads[1] + a.pads[3] - a.dilations[1] * (ws[3] - 1) - 1) / a.strides[1] + 1;
    if (oh <= 0 || ow <= 0) continue;
    const Shape ys{xs[0], ws[0], oh, ow};
    const auto x = uniform(rng, num_elements(xs), -1, 1), w = uniform(rng, num_elements(ws), -1, 1);
    const auto b = pick(0, 1) ? uniform(rng, ws[0], -1, 1) : std::vector<float>{};
    std::vector<float> y(num_elements(ys));
    kernels::conv2d(x.data(), xs, w.data(), ws, b.empty() ? nullptr : b.data(), a, y.data(), ys);
    const auto want = conv_ref(x, xs, w, ws, b, a, ys);
    for (size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == Approx(want[i]).margin(1e-5));
  }
}

TEST_CASE("pooling by hand: max, average with and without counting the padding", "[compiler][interp]") {
  // x = 1..9 in a 3x3 plane; 2x2 windows, stride 2, one pad at bottom/right.
  std::vector<float> x(9);
  for (int i = 0; i < 9; ++i) x[i] = float(i + 1);
  PoolAttrs a;
  a.kernel = {2, 2};
  a.strides = {2, 2};
  a.pads = {0, 0, 1, 1};
  const Shape xs{1, 1, 3, 3}, ys{1, 1, 2, 2};
  std::vector<float> y(4);
  kernels::max_pool(x.data(), xs, a, y.data(), ys);
  CHECK(y == std::vector<float>{5, 6, 8, 9});
  kernels::avg_pool(x.data(), xs, a, y.data(), ys);
  CHECK(y == std::vector<float>{3, 4.5f, 7.5f, 9});  // (1+2+4+5)/4, (3+6)/2, (7+8)/2, 9/1
  a.count_include_pad = true;
  kernels::avg_pool(x.data(), xs, a, y.data(), ys);
  CHECK(y == std::vector<float>{3, 2.25f, 3.75f, 2.25f});  // every window counts 4
}

TEST_CASE("broadcasting Add/Mul: same shape, per channel, scalar, and both sides", "[compiler][interp]") {
  const std::vector<float> a{1, 2, 3, 4, 5, 6};  // [1,2,3]
  std::vector<float> y(6);
  const std::vector<float> c{10, 20};
  kernels::binary(kernels::Binary::Add, a.data(), {1, 2, 3}, c.data(), {2, 1}, y.data(), {1, 2, 3});
  CHECK(y == std::vector<float>{11, 12, 13, 24, 25, 26});
  const float s = 2;
  kernels::binary(kernels::Binary::Mul, a.data(), {1, 2, 3}, &s, {}, y.data(), {1, 2, 3});
  CHECK(y == std::vector<float>{2, 4, 6, 8, 10, 12});
  const std::vector<float> col{1, 2}, row{10, 20, 30};
  kernels::binary(kernels::Binary::Mul, col.data(), {2, 1}, row.data(), {3}, y.data(), {2, 3});
  CHECK(y == std::vector<float>{10, 20, 30, 20, 40, 60});
}

TEST_CASE("QuantizeLinear/DequantizeLinear follow ONNX through quant/quantize.h", "[compiler][interp][qdq]") {
  ModelBuilder b;
  b.input("x", {1, 2, 1, 3}).output("y");
  auto& q =
      b.node("QuantizeLinear", {"x", b.f32("s", {2}, {0.5f, 0.25f}), b.ints("z", {2}, kInt8, {0, 10})}, "q");
  attr(q, "axis", int64_t{1});
  auto& d = b.node("DequantizeLinear", {"q", "s", "z"}, "y");
  attr(d, "axis", int64_t{1});
  const Graph g = import_model(b.bytes());
  const std::vector<float> x{0.25f, 0.75f, 100.0f, -0.125f, 1.0f, -40.0f};
  const TensorMap r = run_fp32(g, one_input(g, x));
  // channel 0: 0.25/0.5 = 0.5 -> 0 (half to even), 1.5 -> 2, 200 -> 127; channel 1: -0.5 -> -0 + 10, 4 + 10,
  // -160 + 10 -> -128
  CHECK(r.at("q").type == ElemType::I8);
  CHECK(r.at("q").ints == std::vector<int64_t>{0, 2, 127, 10, 14, -128});
  for (size_t i = 0; i < 6; ++i) {
    const int64_t c = i / 3;
    const float sc = c ? 0.25f : 0.5f;
    const int32_t zp = c ? 10 : 0;
    CHECK(r.at("q").ints[i] == quantize_linear(x[i], sc, zp, DType::Int8));
    CHECK(r.at("y").f32[i] == dequantize_linear(static_cast<int32_t>(r.at("q").ints[i]), sc, zp));
  }
}

TEST_CASE("run_fp32 returns every intermediate and checks its inputs", "[compiler][interp]") {
  const Graph g = import_model(test_model("residual", 2).bytes, 2);
  std::mt19937 rng(1);
  const TensorMap r = run_fp32(g, one_input(g, uniform(rng, 2 * 4 * 12 * 12, -1, 1)));
  for (const Node& n : g.nodes) {
    REQUIRE(r.count(n.outputs[0]));
    CHECK(r.at(n.outputs[0]).f32.size() == static_cast<size_t>(g.tensor(n.outputs[0]).elements()));
  }
  CHECK(r.count("x"));
  CHECK(!r.count("fc_w"));  // constants are not returned
  for (float v : r.at("r2").f32) CHECK(v >= 0.0f);
  CHECK_THROWS_WITH(run_fp32(g, {}), "m.onnx: input 'x' was not given");
  CHECK_THROWS_WITH(run_fp32(g, {{"x", make_f32("x", {3}, {1, 2, 3})}}),
                    "m.onnx: input 'x' has 3 elements, the model expects [2, 4, 12, 12] 1152");
}

// Speed is a benchmark's business (docs/performance.md), not a test's: this one checks that a
// batch of 100 runs through and that every image's output is its own (image 0 alone agrees).
TEST_CASE("a LeNet-sized model on a batch of 100 images: every output, each image's its own",
          "[compiler][interp]") {
  const Graph g = import_model(test_model("conv_bn_relu_pool", 100).bytes, 100);
  std::mt19937 rng(3);
  const std::vector<float> x = uniform(rng, 100 * 28 * 28, 0, 1);
  const TensorMap r = run_fp32(g, one_input(g, x));
  REQUIRE(r.at("y").f32.size() == 1000);
  const Graph g1 = import_model(test_model("conv_bn_relu_pool", 1).bytes, 1);
  const TensorMap r1 = run_fp32(g1, one_input(g1, std::vector<float>(x.begin(), x.begin() + 28 * 28)));
  for (size_t i = 0; i < 10; ++i) CHECK(r1.at("y").f32[i] == r.at("y").f32[i]);
}
