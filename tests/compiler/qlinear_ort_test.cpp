// QLinearConv and QLinearMatMul (onnxruntime's QOperator format) through tpusim, against ONNX
// Runtime's own kernels for them (onnxruntime-node through tests/support/ort/run_ort.js), an
// independent reference: uint8 input and output with zero points, symmetric int8 weights per
// channel, an int32 bias. tpusim expands them into the QDQ form (pass_expand_qlinear.cpp); its
// integer reference must be within one step of ORT (the requant is a multiplier and shift, ORT's a
// float multiply) and the simulator equal to the integer reference. ConvInteger and MatMulInteger
// (int32 outputs: the accumulator) must equal ORT exactly. Weight zero points are folded into the
// constant weights when the differences fit int8; otherwise refused in one line.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>

#include "base/error.h"
#include "base/npy.h"
#include "compiler/lower.h"
#include "isa/arch.h"
#include "tests/compiler/backend_helpers.h"
#include "tests/compiler/ort_helpers.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

struct Case {
  std::string bytes;
  NpyArray x;
  Shape x_shape;
};

// x uint8 [2, 3, 8, 8] (zero point 128) -> QLinearConv 3x3, pads 1, stride 2, 5 channels -> y
// uint8 (zero point 10); `w_zp` the weights' zero point.
Case conv_case(int64_t w_zp) {
  std::mt19937 rng(11);
  ModelBuilder b;
  b.input("x", {2, 3, 8, 8}, kUInt8).output("y", kUInt8);
  const std::vector<int64_t> w = uniform_ints(rng, 5 * 3 * 3 * 3, -127, 127);
  const std::vector<int64_t> bias = uniform_ints(rng, 5, -3000, 3000);
  auto& n = b.node(
      "QLinearConv",
      {"x", b.scalar("xs", 0.02f), b.ints("xz", {}, kUInt8, {128}), b.ints("w", {5, 3, 3, 3}, kInt8, w),
       b.f32("ws", {5}, {0.004f, 0.006f, 0.003f, 0.005f, 0.0045f}),
       b.ints("wz", {5}, kInt8, std::vector<int64_t>(5, w_zp)), b.scalar("ys", 0.05f),
       b.ints("yz", {}, kUInt8, {10}), b.ints("B", {5}, kInt32, bias)},
      "y");
  attr(n, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
  attr(n, "strides", std::vector<int64_t>{2, 2});
  std::vector<int32_t> x;
  for (int64_t v : uniform_ints(rng, 2 * 3 * 8 * 8, 0, 255)) x.push_back(static_cast<int32_t>(v));
  return {b.bytes(), make_npy_i32({2, 3, 8, 8}, x, NpyType::U8), {2, 3, 8, 8}};
}

// a uint8 [4, 16] (zero point 100) -> QLinearMatMul by int8 [16, 6], per-column scales -> uint8 (zero
// point 120; ORT implements uint8 x int8 -> uint8).
Case matmul_case() {
  std::mt19937 rng(12);
  ModelBuilder b;
  b.input("x", {4, 16}, kUInt8).output("y", kUInt8);
  std::vector<float> bs;
  for (int k = 0; k < 6; ++k) bs.push_back(0.01f + 0.002f * static_cast<float>(k));
  b.node("QLinearMatMul",
         {"x", b.scalar("as", 0.03f), b.ints("az", {}, kUInt8, {100}),
          b.ints("b", {16, 6}, kInt8, uniform_ints(rng, 16 * 6, -127, 127)), b.f32("bs", {6}, bs),
          b.ints("bz", {6}, kInt8, std::vector<int64_t>(6, 0)), b.scalar("ys", 0.4f),
          b.ints("yz", {}, kUInt8, {120})},
         "y");
  std::vector<int32_t> x;
  for (int64_t v : uniform_ints(rng, 4 * 16, 0, 255)) x.push_back(static_cast<int32_t>(v));
  return {b.bytes(), make_npy_i32({4, 16}, x, NpyType::U8), {4, 16}};
}

// x uint8 [2, 3, 7, 9] (zero point 128) -> ConvInteger 3x3, pads 1, stride 2, by uint8 weights
// [5, 3, 3, 3] in [0, 200] at zero point 90 (folded: differences in [-90, 110]) -> y int32.
Case conv_integer_case() {
  std::mt19937 rng(13);
  ModelBuilder b;
  b.input("x", {2, 3, 7, 9}, kUInt8).output("y", kInt32);
  auto& n = b.node("ConvInteger",
                   {"x", b.ints("w", {5, 3, 3, 3}, kUInt8, uniform_ints(rng, 5 * 3 * 3 * 3, 0, 200)),
                    b.ints("xz", {}, kUInt8, {128}), b.ints("wz", {}, kUInt8, {90})},
                   "y");
  attr(n, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
  attr(n, "strides", std::vector<int64_t>{2, 2});
  std::vector<int32_t> x;
  for (int64_t v : uniform_ints(rng, 2 * 3 * 7 * 9, 0, 255)) x.push_back(static_cast<int32_t>(v));
  return {b.bytes(), make_npy_i32({2, 3, 7, 9}, x, NpyType::U8), {2, 3, 7, 9}};
}

// a uint8 [4, 40] (zero point 100) -> MatMulInteger by int8 [40, 6] at zero point 5 -> int32.
Case matmul_integer_case() {
  std::mt19937 rng(14);
  ModelBuilder b;
  b.input("x", {4, 40}, kUInt8).output("y", kInt32);
  b.node("MatMulInteger",
         {"x", b.ints("b", {40, 6}, kInt8, uniform_ints(rng, 40 * 6, -120, 120)),
          b.ints("az", {}, kUInt8, {100}), b.ints("bz", {}, kInt8, {5})},
         "y");
  std::vector<int32_t> x;
  for (int64_t v : uniform_ints(rng, 4 * 40, 0, 255)) x.push_back(static_cast<int32_t>(v));
  return {b.bytes(), make_npy_i32({4, 40}, x, NpyType::U8), {4, 40}};
}

// `tolerance` steps from ORT allowed (0: exact).
void check_against_ort(const Case& c, const std::string& tag, int64_t tolerance = 1) {
  const IntGraph ig = lower_qdq(import_model(c.bytes, c.x_shape[0]));
  REQUIRE(ig.inputs.size() == 1);
  IntValues in;
  const ITensor& t = ig.tensor(ig.inputs[0]);
  IntValue v{t.shape, t.dtype, t.scale, t.zero_point, {}};
  for (uint64_t i = 0; i < c.x.elements(); ++i) v.data.push_back(static_cast<int32_t>(c.x.at_i64(i)));
  in[ig.inputs[0]] = v;
  const IntRun run = run_int(ig, in);
  const std::vector<int32_t>& ours = run.values.at(ig.outputs[0]).data;
  const std::vector<int64_t> ort = orttest::run_ort_y(c.bytes, c.x, "compiler_qlinear_work/" + tag);
  REQUIRE(ours.size() == ort.size());
  int64_t off = 0, distinct = 0;
  for (size_t i = 0; i < ort.size(); ++i) {
    CHECK(std::llabs(ours[i] - ort[i]) <= tolerance);
    off += ours[i] != ort[i];
    distinct += ort[i] != ort[0];
  }
  CHECK(distinct > 0);  // not a saturated or constant output
  CHECK(off * 100 <= static_cast<int64_t>(ort.size()));
  WARN(tag << ": " << off << " of " << ort.size() << " outputs one step from ONNX Runtime");
  for (const char* arch : {"edge", "default"}) betest::check_bitexact(ig, arch_preset(arch), false, 3);
}

}  // namespace

TEST_CASE("QLinearConv and QLinearMatMul agree with ONNX Runtime's kernels; the simulator with run_int",
          "[compiler][qlinear][ort]") {
  check_against_ort(conv_case(0), "qlinearconv");
  check_against_ort(matmul_case(), "qlinearmatmul");
}

TEST_CASE(
    "ConvInteger and MatMulInteger equal ONNX Runtime exactly (int32 accumulators); the simulator run_int",
    "[compiler][qlinear][ort]") {
  const Case conv = conv_integer_case(), mm = matmul_integer_case();
  for (const Case* c : {&conv, &mm}) {
    const IntGraph ig = lower_qdq(import_model(c->bytes, c->x_shape[0]));
    CHECK(ig.tensor(ig.outputs[0]).dtype == DType::Int32);
  }
  check_against_ort(conv, "convinteger", 0);
  check_against_ort(mm, "matmulinteger", 0);
}

TEST_CASE("a weight zero point is folded when the differences fit int8, else refused in one line",
          "[compiler][qlinear]") {
  // Weights in [-127, 127] at zero point 3: -127 - 3 = -130 does not fit.
  CHECK_THROWS_WITH(lower_qdq(import_model(conv_case(3).bytes, 2)),
                    Catch::Contains("- zero point 3 =") && Catch::Contains("does not fit int8") &&
                        Catch::Contains("symmetric"));
  // An int32 accumulator may be requantized or be an output, but not feed the MAC array.
  ModelBuilder b;
  b.input("x", {1, 2, 4, 4}, kUInt8).output("y", kUInt8);
  b.node("ConvInteger", {"x", b.ints("w", {2, 2, 1, 1}, kInt8, {1, 2, 3, 4})}, "acc");
  b.node("DequantizeLinear", {"acc", b.scalar("s", 1.0f)}, "accf");
  attr(b.node("MaxPool", {"accf"}, "p"), "kernel_shape", std::vector<int64_t>{2, 2});
  b.node("QuantizeLinear", {"p", b.scalar("ys", 4.0f), b.ints("yz", {}, kUInt8, {0})}, "y");
  CHECK_THROWS_WITH(lower_qdq(import_model(b.bytes(), 1)), Catch::Contains("is int32 (an accumulator)"));
}
