// Quantized lowering of the ops real models bring (#12), each computed by hand here: pointwise
// functions as look-up tables, a squeeze-and-excite broadcast Mul, per-channel scales and
// BatchNormalization folded into a pending Conv (PyTorch's QAT ConvBn export), Add/Mul by a
// constant as a 1x1 depthwise conv, and a max pool without a QuantizeLinear before a Conv.
#include <catch2/catch.hpp>
#include <cmath>

#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "quant/quantize.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

// The table a pointwise f must get, computed here from its definition (not pointwise.cpp).
std::vector<int32_t> table(double (*f)(double), float s_in, int32_t zp_in, DType in, float s_out,
                           int32_t zp_out, DType out) {
  std::vector<int32_t> t;
  for (int64_t q = traits(in).qmin; q <= traits(in).qmax; ++q) {
    const double x = (static_cast<double>(q) - zp_in) * static_cast<double>(s_in);
    const double v = std::nearbyint(static_cast<float>(f(x)) / static_cast<double>(s_out)) + zp_out;
    t.push_back(static_cast<int32_t>(
        std::clamp<double>(v, static_cast<double>(traits(out).qmin), static_cast<double>(traits(out).qmax))));
  }
  return t;
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double silu(double x) { return x / (1 + std::exp(-x)); }
double hardswish(double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }

}  // namespace

TEST_CASE("pointwise functions lower to one lut op whose table is Q(f(DQ(q)))", "[compiler][lower][lut]") {
  SECTION("Sigmoid, int8 -> uint8") {
    ModelBuilder b;
    b.input("x", {1, 2, 3, 3}).output("y");
    add_qdq(b, "x", "xq", 0.05f, 3, kInt8);
    b.node("Sigmoid", {"xq"}, "s", "sig");
    add_qdq(b, "s", "y", 1.0f / 255, 0, kUInt8);
    const IntGraph ig = lower_qdq(import_model(b.bytes()));
    REQUIRE(ig.ops.size() == 1);
    REQUIRE(ig.ops[0].as<ILut>());
    CHECK(ig.ops[0].as<ILut>()->table == table(sigmoid, 0.05f, 3, DType::Int8, 1.0f / 255, 0, DType::UInt8));
  }
  SECTION("Mul(x, Sigmoid(x)) is one SiLU table; Mul(x, HardSigmoid(x)) one HardSwish table, at int4") {
    for (const char* gate : {"Sigmoid", "HardSigmoid"}) {
      ModelBuilder b;
      b.input("x", {1, 2, 3, 3}).output("y");
      add_qdq(b, "x", "xq", 0.5f, 0, kInt4);
      auto& g = b.node(gate, {"xq"}, "g", "gate");
      if (std::string(gate) == "HardSigmoid") attr(g, "alpha", 1.0f / 6);
      b.node("Mul", {"xq", "g"}, "m", "mul");
      add_qdq(b, "m", "y", 0.25f, -4, kInt4);
      const IntGraph ig = lower_qdq(import_model(b.bytes()));
      REQUIRE(ig.ops.size() == 1);
      REQUIRE(ig.ops[0].as<ILut>());
      CHECK(ig.ops[0].as<ILut>()->table.size() == 16);
      CHECK(ig.ops[0].as<ILut>()->table == table(std::string(gate) == "Sigmoid" ? silu : hardswish, 0.5f, 0,
                                                 DType::Int4, 0.25f, -4, DType::Int4));
    }
  }
}

TEST_CASE("a squeeze-and-excite Mul broadcasts [N,C,1,1] over [N,C,H,W]", "[compiler][lower]") {
  ModelBuilder b;
  b.input("x", {1, 2, 2, 2}).input("s", {1, 2, 1, 1}).output("y");
  add_qdq(b, "x", "xq", 0.1f, 0, kInt8);
  add_qdq(b, "s", "sq", 1.0f / 255, 0, kUInt8);
  b.node("Mul", {"xq", "sq"}, "m", "se");
  add_qdq(b, "m", "y", 0.05f, 0, kInt8);
  const IntGraph ig = lower_qdq(import_model(b.bytes()));
  REQUIRE(ig.ops.size() == 1);
  REQUIRE(ig.ops[0].as<IEltwise>());
  IntValues in;
  in["xq_q"] = {{1, 2, 2, 2}, DType::Int8, 0.1f, 0, {10, -20, 30, 40, 5, 6, -7, 8}};
  in["sq_q"] = {{1, 2, 1, 1}, DType::UInt8, 1.0f / 255, 0, {255, 51}};
  const IntRun run = run_int(ig, in);
  const IntValue& y = run.values.at("y_q");
  // y = round(x * 0.1 * s / 255 / 0.05): channel 0 gate 1.0 -> 2x; channel 1 gate 0.2 -> 0.4x.
  CHECK(y.data == std::vector<int32_t>{20, -40, 60, 80, 2, 2, -3, 3});
}

TEST_CASE("Conv -> Div -> Add -> BatchNormalization (PyTorch QAT ConvBn) folds into one conv",
          "[compiler][lower]") {
  ModelBuilder b;
  b.input("x", {1, 1, 1, 1}).output("y");
  add_qdq(b, "x", "xq", 0.1f, 0, kInt8);
  add_dq_const(b, "w", {2, 1, 1, 1}, kInt8, {10, -20}, {0.01f, 0.01f});
  b.node("Conv", {"xq", "w"}, "c", "conv");
  b.node("Div", {"c", b.f32("sf", {1, 2, 1, 1}, {0.5f, -2.0f})}, "d", "div");
  b.node("Add", {"d", b.f32("bias", {1, 2, 1, 1}, {0.1f, 0.2f})}, "a", "add");
  auto& bn = b.node("BatchNormalization",
                    {"a", b.f32("g", {2}, {2.0f, 1.0f}), b.f32("be", {2}, {0.0f, 0.5f}),
                     b.f32("mu", {2}, {0.0f, 0.0f}), b.f32("var", {2}, {1.0f, 1.0f})},
                    "bn", "bn");
  attr(bn, "epsilon", 0.0f);
  add_qdq(b, "bn", "y", 0.02f, 0, kInt8);
  const IntGraph ig = lower_qdq(import_model(b.bytes()));
  REQUIRE(ig.ops.size() == 1);
  const IConv& c = *ig.ops[0].as<IConv>();
  CHECK(c.weight == std::vector<int8_t>{10, 20});  // channel 1's negative scale negates its weights
  IntValues in;
  in["xq_q"] = {{1, 1, 1, 1}, DType::Int8, 0.1f, 0, {30}};  // x = 3
  const IntRun run = run_int(ig, in);
  const IntValue& y = run.values.at("y_q");
  // ch0: ((3 * 0.1) / 0.5 + 0.1) * 2 = 1.4 -> 70; ch1: ((3 * -0.2) / -2 + 0.2) * 1 + 0.5 = 1.0 -> 50.
  CHECK(y.data == std::vector<int32_t>{70, 50});
}

TEST_CASE("Add and Mul by a per-channel constant are a 1x1 depthwise conv", "[compiler][lower]") {
  ModelBuilder b;
  b.input("x", {1, 2, 1, 2}).output("y");
  add_qdq(b, "x", "xq", 0.1f, 0, kInt8);
  b.node("Mul", {"xq", b.f32("k", {2, 1, 1}, {2.0f, -0.5f})}, "m", "mul");
  add_qdq(b, "m", "mq", 0.1f, 0, kInt8);
  b.node("Add", {b.f32("t", {1, 2, 1, 1}, {1.0f, -1.0f}), "mq"}, "a", "add");
  add_qdq(b, "a", "y", 0.1f, 0, kInt8);
  const IntGraph ig = lower_qdq(import_model(b.bytes()));
  REQUIRE(ig.ops.size() == 2);
  for (const IOp& op : ig.ops) {
    REQUIRE(op.as<IConv>());
    CHECK(op.as<IConv>()->groups == 2);
  }
  IntValues in;
  in["xq_q"] = {{1, 2, 1, 2}, DType::Int8, 0.1f, 0, {10, -30, 40, 8}};  // 1, -3 | 4, 0.8
  const IntRun run = run_int(ig, in);
  const IntValue& y = run.values.at("y_q");
  // mul: 2, -6 | -2, -0.4; add: 3, -5 | -3, -1.4
  CHECK(y.data == std::vector<int32_t>{30, -50, -30, -14});
}

TEST_CASE("Conv -> Relu -> MaxPool -> QuantizeLinear: the conv requantizes onto the pool's grid",
          "[compiler][lower]") {
  ModelBuilder b;
  b.input("x", {1, 1, 2, 2}).output("y");
  add_qdq(b, "x", "xq", 0.1f, 0, kInt8);
  add_dq_const(b, "w", {1, 1, 1, 1}, kInt8, {-3}, {0.5f});
  b.node("Conv", {"xq", "w"}, "c", "conv");
  b.node("Relu", {"c"}, "r", "relu");
  attr(b.node("MaxPool", {"r"}, "mp", "pool"), "kernel_shape", std::vector<int64_t>{2, 2});
  add_qdq(b, "mp", "y", 0.25f, 1, kUInt4);
  const IntGraph ig = lower_qdq(import_model(b.bytes()));
  REQUIRE(ig.ops.size() == 2);
  CHECK(ig.ops[0].as<IConv>());
  CHECK(ig.ops[0].output == "r");
  CHECK(ig.tensor("r").dtype == DType::UInt4);  // on the pool's output grid
  CHECK(ig.ops[1].as<IPool>());
  IntValues in;
  in["xq_q"] = {{1, 1, 2, 2}, DType::Int8, 0.1f, 0, {-10, -5, 4, 0}};  // -1, -0.5, 0.4, 0
  const IntRun run = run_int(ig, in);
  // conv: 1.5, 0.75, -0.6, 0 -> relu -> on uint4 (0.25, zp 1): 7, 4, 1, 1; max 7 (= Q(max) = Q(1.5)).
  CHECK(run.values.at("r").data == std::vector<int32_t>{7, 4, 1, 1});
  CHECK(run.values.at("y_q").data == std::vector<int32_t>{7});
}
