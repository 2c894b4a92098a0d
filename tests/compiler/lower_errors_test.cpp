// Quantized lowering errors: each is one line naming the node and its op type.
#include <catch2/catch.hpp>
#include <cmath>

#include "base/error.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {
std::string lower_error(const std::string& bytes) {
  try {
    lower_qdq(
        import_onnx_bytes(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), "m.onnx"));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

namespace {
// x [1,2,4,4] -> QDQ 'xq'; the caller adds the rest.
ModelBuilder quantized_input() {
  ModelBuilder b;
  b.input("x", {1, 2, 4, 4}).output("y");
  add_qdq(b, "x", "xq", 0.1f, 0, kInt8);
  return b;
}
std::string int8_weight(ModelBuilder& b, std::vector<int64_t> zp = {}) {
  return add_dq_const(b, "w", {3, 2, 1, 1}, kInt8, {1, 2, 3, 4, 5, 6}, {0.1f, 0.1f, 0.1f}, std::move(zp));
}
}  // namespace

TEST_CASE("lowering errors name the node and op type", "[compiler][lower][errors]") {
  const std::string prefix = "m.onnx: node 'conv' (Conv): ";
  {  // found by fuzz_onnx (fuzz/corpus/fuzz_onnx/regress-nan-bias.onnx): a NaN float bias
    ModelBuilder b = quantized_input();
    b.node("Conv", {"xq", int8_weight(b), b.f32("bias", {3}, {0.5f, std::nanf(""), 1.0f})}, "c", "conv");
    add_qdq(b, "c", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(b.bytes()).rfind(prefix + "constant 'bias' holds ", 0) == 0);
    CHECK(lower_error(b.bytes()).find("nan: expected finite values") != std::string::npos);
  }
  {
    ModelBuilder b = quantized_input();
    b.node("Conv", {"xq", int8_weight(b, {0, -126, 0})}, "c", "conv");
    add_qdq(b, "c", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(b.bytes()) ==
          prefix +
              "weight 'w': value 3 - zero point -126 = 129 (channel 1, DequantizeLinear "
              "'w') does not fit int8: the MAC array's weights are symmetric int8 "
              "integers");
  }
  {
    ModelBuilder b = quantized_input();
    b.input("wx", {3, 2, 1, 1});
    add_qdq(b, "wx", "wq", 0.1f, 0, kInt8);
    b.node("Conv", {"xq", "wq"}, "c", "conv");
    add_qdq(b, "c", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(b.bytes()) == prefix +
                                        "weight 'wq' is DequantizeLinear 'wq' of the non-constant tensor "
                                        "'wq_q': weights must be constant");
  }
  {
    ModelBuilder b = quantized_input();
    b.node("Conv", {"xq", b.f32("w", {3, 2, 1, 1}, std::vector<float>(6, 0.5f))}, "c", "conv");
    add_qdq(b, "c", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(b.bytes()) ==
          prefix +
              "weight 'w' is float32: a quantized graph needs DequantizeLinear of an int8/int4 constant");
  }
  {  // a Conv whose float output feeds another Conv: no QuantizeLinear in between
    ModelBuilder b = quantized_input();
    b.node("Conv", {"xq", int8_weight(b)}, "c", "conv");
    b.node("Conv", {"c", add_dq_const(b, "w2", {1, 3, 1, 1}, kInt8, {1, 1, 1}, {0.1f})}, "c2", "conv2");
    add_qdq(b, "c2", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(b.bytes()) ==
          prefix +
              "output 'c' is float and reaches node 'conv2' (Conv) without a "
              "QuantizeLinear: float tensors between quantized ops are not supported");
  }
  {  // ... or the graph output
    ModelBuilder b = quantized_input();
    b.node("Conv", {"xq", int8_weight(b)}, "y", "conv");
    CHECK(lower_error(b.bytes()) ==
          prefix +
              "output 'y' is float and reaches the graph output without a "
              "QuantizeLinear: float tensors between quantized ops are not supported");
  }
  {  // a float model: the input is not quantized
    ModelBuilder b;
    b.input("x", {1, 2, 4, 4}).output("y");
    b.node("Conv", {"x", b.f32("w", {3, 2, 1, 1}, std::vector<float>(6, 0.5f))}, "y", "conv");
    CHECK(lower_error(b.bytes()) ==
          prefix +
              "reads the float model input 'x': in a quantized graph the input must "
              "feed QuantizeLinear, which the host applies (FP32 models need "
              "calibration first)");
  }
}

TEST_CASE("ops between DequantizeLinear and QuantizeLinear that have no integer form",
          "[compiler][lower][errors]") {
  {  // BatchNormalization and Mul by a per-channel constant lower to a 1x1 depthwise conv; a
     // constant that varies along W has no integer form
    ModelBuilder b = quantized_input();
    b.node("BatchNormalization",
           {"xq", b.f32("g", {2}, {1, 1}), b.f32("be", {2}, {0, 0}), b.f32("m", {2}, {0, 0}),
            b.f32("v", {2}, {1, 1})},
           "bn", "bn");
    add_qdq(b, "bn", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(b.bytes()) == "no error");
    ModelBuilder c = quantized_input();
    c.node("Mul", {"xq", c.f32("s", {2, 1, 1}, {2, 3})}, "m", "scale");
    add_qdq(c, "m", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(c.bytes()) == "no error");
    ModelBuilder d = quantized_input();
    d.node("Mul", {"xq", d.f32("s", {4}, {1, 2, 3, 4})}, "m", "scale");  // along W of [1, 2, 4, 4]
    add_qdq(d, "m", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(d.bytes()).starts_with("m.onnx: node 'scale' (Mul): constant"));
  }
  {  // an average is not on the input grid: it needs its QuantizeLinear
    ModelBuilder b = quantized_input();
    attr(b.node("AveragePool", {"xq"}, "ap", "ap"), "kernel_shape", std::vector<int64_t>{2, 2});
    b.node("Flatten", {"ap"}, "flat", "flat");
    add_qdq(b, "flat", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(b.bytes()) ==
          "m.onnx: node 'ap' (AveragePool): output 'ap' is float and reaches node 'flat' "
          "(Flatten) without a QuantizeLinear: float tensors between quantized ops are not "
          "supported");
  }
  {
    ModelBuilder b = quantized_input();
    add_qdq(b, "x", "xq2", 0.05f, 0, kInt8);
    b.node("Add", {"xq", "xq2"}, "s", "add");
    add_qdq(b, "s", "y", 0.1f, 0, kInt8);
    CHECK(lower_error(b.bytes()) ==
          "m.onnx: node 'xq2_quant' (QuantizeLinear): quantizes input 'x' with other "
          "parameters than 'xq_q' does (one set per input)");
  }
}
