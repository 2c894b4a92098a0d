// BatchNormalization folding: outputs preserved (FP32 interpreter before vs after), folded into
// Conv and Gemm where allowed, ChannelAffine where not.
#include "compiler/fold_batchnorm.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "compiler/fp32_interp.h"
#include "compiler/onnx_import.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {
int count_op(const Graph& g, Op op) {
  return static_cast<int>(
      std::count_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op == op; }));
}
// max |a - b| over the tensors both graphs still have, relative to max |a| (>= 1).
double max_rel_diff(const TensorMap& a, const TensorMap& b, const std::string& name) {
  const auto& x = a.at(name).f32;
  const auto& y = b.at(name).f32;
  REQUIRE(x.size() == y.size());
  double d = 0, m = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    d = std::max(d, double(std::fabs(x[i] - y[i])));
    m = std::max(m, double(std::fabs(x[i])));
  }
  return d / m;
}
TensorMap run(const Graph& g, uint32_t seed) {
  std::mt19937 rng(seed);
  const Tensor& x = g.tensor("x");
  return run_fp32(g, {{"x", make_f32("x", x.shape, uniform(rng, x.elements(), -1, 1))}});
}
}  // namespace

TEST_CASE("folding BN into Conv and Gemm preserves every surviving tensor", "[compiler][fold]") {
  const Graph g0 = import_model(test_model("conv_bn_relu_pool", 4).bytes, 4);
  Graph g1 = g0;
  const FoldStats st = fold_batchnorm(g1);
  CHECK(st.folded == 3);  // bn1 into conv1, bn2 into conv2 (which had no bias), y into the Gemm
  CHECK(st.to_affine == 0);
  CHECK(count_op(g1, Op::BatchNormalization) == 0);
  CHECK(g1.nodes.size() == g0.nodes.size() - 3);
  CHECK(!g1.has("conv1"));  // the Conv now writes the BN's output
  CHECK(g1.producer("bn1")->op == Op::Conv);
  CHECK(g1.producer("y")->op == Op::Gemm);
  CHECK(g1.producer("bn2")->inputs.size() == 3);  // a bias was created
  CHECK(!g1.has("conv1_w"));                      // the unfolded weights are gone
  const TensorMap r0 = run(g0, 5), r1 = run(g1, 5);
  for (const char* t : {"bn1", "relu1", "pool1", "bn2", "clip2", "pool2", "flat", "y"}) {
    INFO(t);
    CHECK(max_rel_diff(r0, r1, t) < 1e-5);
  }
}

TEST_CASE("a BN after a non-foldable producer becomes ChannelAffine", "[compiler][fold]") {
  const Graph g0 = import_model(test_model("depthwise_separable", 3).bytes, 3);
  Graph g1 = g0;
  const FoldStats st = fold_batchnorm(g1);
  CHECK(st.folded == 1);     // dw_bn into the depthwise Conv
  CHECK(st.to_affine == 1);  // cat_bn follows a Concat
  CHECK(count_op(g1, Op::ChannelAffine) == 1);
  CHECK(g1.producer("cat_bn")->inputs.size() == 3);
  CHECK(g1.tensor(g1.producer("cat_bn")->inputs[1]).shape == Shape{20});
  const TensorMap r0 = run(g0, 6), r1 = run(g1, 6);
  for (const char* t : {"dw_bn", "cat_bn", "ap", "y"}) {
    INFO(t);
    CHECK(max_rel_diff(r0, r1, t) < 1e-5);
  }
}

TEST_CASE("a Conv whose output has other users, or a shared weight, is not changed under them",
          "[compiler][fold]") {
  std::mt19937 rng(9);
  ModelBuilder b;
  b.input("x", {-1, 2, 5, 5}).output("y").output("other");
  const std::string w = b.f32("w", {2, 2, 3, 3}, uniform(rng, 36, -1, 1));
  b.node("Conv", {"x", w}, "c1");
  b.node("Conv", {"x", w}, "c2");  // shares w with c1
  auto bn = [&](const std::string& in, const std::string& out) {
    b.node("BatchNormalization",
           {in, b.f32(out + "_g", {2}, {1.5f, 0.5f}), b.f32(out + "_b", {2}, {0.1f, -0.2f}),
            b.f32(out + "_m", {2}, {0.3f, 0.0f}), b.f32(out + "_v", {2}, {2.0f, 0.25f})},
           out);
  };
  bn("c1", "n1");  // c1 also feeds the Add: not foldable
  bn("c2", "n2");  // foldable, but w is shared with c1: gets its own folded copy
  b.node("Add", {"n1", "c1"}, "other");
  b.node("Add", {"n2", "n1"}, "y");
  const Graph g0 = import_model(b.bytes(), 2);
  Graph g1 = g0;
  const FoldStats st = fold_batchnorm(g1);
  CHECK(st.folded == 1);
  CHECK(st.to_affine == 1);
  CHECK(g1.producer("c1")->inputs[1] == "w");
  CHECK(g1.tensor("w").f32 == g0.tensor("w").f32);
  const TensorMap r0 = run(g0, 1), r1 = run(g1, 1);
  CHECK(max_rel_diff(r0, r1, "y") < 1e-5);
  CHECK(max_rel_diff(r0, r1, "other") < 1e-5);
}

TEST_CASE("Gemm folding handles C of shape [M,N], beta and transB=0", "[compiler][fold]") {
  std::mt19937 rng(11);
  for (float beta : {0.0f, 1.0f, 2.5f}) {
    INFO("beta " << beta);
    ModelBuilder b;
    b.input("x", {3, 4}).output("y");
    auto& g = b.node(
        "Gemm",
        {"x", b.f32("B", {4, 5}, uniform(rng, 20, -1, 1)), b.f32("C", {3, 5}, uniform(rng, 15, -1, 1))},
        "fc");
    attr(g, "beta", beta);
    attr(g, "alpha", 0.75f);
    b.node("BatchNormalization",
           {"fc", b.f32("g", {5}, uniform(rng, 5, 0.5f, 2)), b.f32("bb", {5}, uniform(rng, 5, -1, 1)),
            b.f32("m", {5}, uniform(rng, 5, -1, 1)), b.f32("v", {5}, uniform(rng, 5, 0.5f, 2))},
           "y");
    const Graph g0 = import_model(b.bytes(), 3);
    Graph g1 = g0;
    CHECK(fold_batchnorm(g1).folded == 1);
    CHECK(g1.nodes.size() == 1);
    CHECK(max_rel_diff(run(g0, 2), run(g1, 2), "y") < 1e-5);
  }
}
