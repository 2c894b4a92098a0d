// narrow_storage (compiler/pass_narrow_storage.cpp): integers in int8/uint8 that provably fit
// int4/uint4 are stored in the 4-bit type, and only those; a Clip that only restores the 4-bit
// type's saturation goes, one that bounds a narrower grid stays. The whole-model check (the
// 8-bit-container export compiles to the int4/uint4 export's program) is in
// tests/qat/export_ort_test.cpp.
#include <catch2/catch.hpp>

#include "compiler/fp32_interp.h"
#include "compiler/lower.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

bool has_node(const Graph& g, const std::string& out) {
  for (const Node& n : g.nodes)
    if (n.outputs[0] == out) return true;
  return false;
}

std::string clip(ModelBuilder& b, const std::string& x, const std::string& y, float lo, float hi) {
  b.node("Clip", {x, b.scalar(y + "_lo", lo), b.scalar(y + "_hi", hi)}, y);
  return y;
}

std::string conv(ModelBuilder& b, const std::string& x, const std::string& y, const std::vector<int64_t>& q) {
  const std::string w = add_dq_const(b, y + "_w", {2, 2, 1, 1}, kInt8, q, {0.05f, 0.05f});
  auto& n = b.node("Conv", {x, w}, y);
  attr(n, "kernel_shape", std::vector<int64_t>{1, 1});
  return y;
}

// x -> Clip[0, 1.5] -> Q(uint8, 0.1) [0..15: uint4, the Clip goes] -> conv (weights in [-7, 7]: int4)
//   -> Relu -> Clip[0, 0.3] -> Q(uint8, 0.1) [0..3: uint4, the Clip stays: a 2-bit grid]
//   -> MaxPool -> Q(uint8, 0.1) [the max of 0..3 stays 0..3: uint4]
//   -> conv (weights up to 100: int8) -> Relu -> Clip[0, 6] -> Q(uint8, 6/255) [0..255: uint8]
//   -> DQ -> y; and the max pool's Q again as the graph output q2 (outputs keep their type), and
//   read by a DequantizeLinear at zero point 20 (outside uint4: that Q keeps uint8).
std::string model() {
  ModelBuilder b;
  b.input("x", {1, 2, 4, 4}).output("y").output("q2", kUInt8).output("v");
  add_qdq(b, clip(b, "x", "xc", 0.0f, 1.5f), "xd", 0.1f, 0, kUInt8);
  b.node("Relu", {conv(b, "xd", "c1", {7, -7, 3, 0})}, "r1");
  add_qdq(b, clip(b, "r1", "r1c", 0.0f, 0.3f), "r1d", 0.1f, 0, kUInt8);
  auto& mp = b.node("MaxPool", {"r1d"}, "mp");
  attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  add_qdq(b, "mp", "mpd", 0.1f, 0, kUInt8);
  b.node("Relu", {conv(b, "mpd", "c2", {100, -7, 3, 0})}, "r2");
  add_qdq(b, clip(b, "r2", "r2c", 0.0f, 6.0f), "y", 6.0f / 255, 0, kUInt8);
  b.node("QuantizeLinear", {"mpd", b.scalar("q2_s", 0.1f), b.ints("q2_z", {}, kUInt8, {0})}, "q2");
  b.node("QuantizeLinear",
         {clip(b, "mpd", "vc", 0.0f, 1.5f), b.scalar("v_s", 0.1f), b.ints("v_z", {}, kUInt8, {0})}, "vq");
  b.node("DequantizeLinear", {"vq", b.scalar("v_ds", 0.1f), b.ints("v_dz", {}, kUInt8, {20})}, "v");
  return b.bytes();
}

}  // namespace

TEST_CASE("narrow_storage: 8-bit containers of 4-bit integers become 4-bit tensors, nothing else",
          "[compiler][canon]") {
  const Graph g = import_model(model());
  CHECK(g.tensor("xd_q").type == ElemType::U4);
  CHECK_FALSE(has_node(g, "xc"));  // [0, 1.5] at 0.1 is uint4's own [0, 15]
  CHECK(g.tensor("c1_w_q").type == ElemType::I4);
  CHECK(g.tensor("r1d_q").type == ElemType::U4);
  CHECK(has_node(g, "r1c"));  // [0, 3]: the 2-bit grid's bound, not uint4's
  CHECK(g.tensor("mpd_q").type == ElemType::U4);
  CHECK(g.tensor("c2_w_q").type == ElemType::I8);  // 100 does not fit
  CHECK(g.tensor("y_q").type == ElemType::U8);     // ReLU6 at 6/255: 0..255
  CHECK(g.tensor("q2").type == ElemType::U8);      // a graph output
  CHECK(g.tensor("vq").type == ElemType::U8);      // read at zero point 20
  CHECK(has_node(g, "vc"));
  for (const Node& n : g.nodes)
    if (n.op == Op::DequantizeLinear) {
      INFO(n.name);
      CHECK(n.attr<QuantAttrs>().qtype == g.tensor(n.input(0)).type);
    }
  // It lowers: every 4-bit tensor above is a 4-bit integer tensor of the program.
  const IntGraph ig = lower_qdq(g);
  CHECK(ig.tensors.at("xd_q").dtype == DType::UInt4);
  CHECK(ig.tensors.at("r1d_q").dtype == DType::UInt4);
}

TEST_CASE("narrow_storage changes no value: the FP32 interpreter gives the 8-bit graph's results",
          "[compiler][canon]") {
  // The same model without the pass's effect: every QuantizeLinear saturates at uint8, which the
  // Clips and the max pool keep inside 4 bits anyway; so the results are equal bit for bit to
  // a run where the values are computed by hand for one input.
  const Graph g = import_model(model());
  TensorMap in;
  std::vector<float> x(32);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.07f - 0.3f;
  in["x"] = make_f32("x", {1, 2, 4, 4}, x);
  const TensorMap out = run_fp32(g, in);
  const Tensor& xq = out.at("xd_q");
  for (size_t i = 0; i < x.size(); ++i) {
    INFO(i);
    const float c = std::min(std::max(x[i], 0.0f), 1.5f);
    CHECK(xq.ints[i] == std::lrint(c / 0.1f));
  }
}
