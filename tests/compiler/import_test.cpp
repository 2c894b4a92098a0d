// ONNX import and shape inference on the builder zoo (tests/support/onnx_zoo.h), and the decoding of
// initializers (raw_data, typed fields, int4 packing).
#include <catch2/catch.hpp>

#include "base/error.h"
#include "compiler/onnx_import.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {
const Node& node(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes)
    if (n.name == name) return n;
  FAIL("no node " << name);
  throw;
}
}  // namespace

TEST_CASE("every zoo model imports with static shapes on every tensor", "[compiler][import]") {
  const std::map<std::string, Shape> out_shapes{{"conv_bn_relu_pool", {2, 10}},
                                                {"residual", {2, 10}},
                                                {"depthwise_separable", {2, 20}},
                                                {"mlp", {2, 10}},
                                                {"gemm_trans", {4, 3}},
                                                {"clip_opset6", {2, 5}},
                                                {"qdq_int8", {2, 10}},
                                                {"qdq_uint8", {2, 10}},
                                                {"qdq_int4", {2, 10}}};
  for (const TestModel& m : test_models(2)) {
    INFO(m.name);
    const Graph g = import_model(m.bytes, 2);
    REQUIRE(g.inputs == std::vector<std::string>{"x"});
    REQUIRE(g.outputs == std::vector<std::string>{"y"});
    CHECK(g.tensor("x").shape == m.input_shape);
    CHECK(g.tensor("y").shape == out_shapes.at(m.name));
    CHECK(g.tensor("y").type == ElemType::F32);
    for (const Node& n : g.nodes) {
      const Tensor& o = g.tensor(n.outputs[0]);
      CHECK(!o.shape.empty());
      CHECK(o.elements() > 0);
      for (const std::string& in : n.inputs) CHECK((in.empty() || g.has(in)));
    }
    // Topologically sorted: every input is known before its use.
    std::set<std::string> seen(g.inputs.begin(), g.inputs.end());
    for (const Node& n : g.nodes) {
      for (const std::string& in : n.inputs) CHECK((in.empty() || seen.count(in) || g.tensor(in).is_const));
      seen.insert(n.outputs[0]);
    }
  }
}

TEST_CASE("shapes and attributes of conv_bn_relu_pool", "[compiler][import]") {
  const Graph g = import_model(test_model("conv_bn_relu_pool", 3).bytes, 3);
  CHECK(g.opset == 13);
  CHECK(g.nodes.size() == 11);
  CHECK(g.tensor("conv1").shape == Shape{3, 8, 28, 28});
  CHECK(g.tensor("pool1").shape == Shape{3, 8, 14, 14});
  CHECK(g.tensor("conv2").shape == Shape{3, 16, 10, 10});
  CHECK(g.tensor("pool2").shape == Shape{3, 16, 5, 5});
  CHECK(g.tensor("flat").shape == Shape{3, 400});
  const auto& c1 = node(g, "conv1").attr<ConvAttrs>();
  CHECK(c1.kernel == std::array<int64_t, 2>{3, 3});  // from the weight: kernel_shape was not given
  CHECK(c1.pads == std::array<int64_t, 4>{1, 1, 1, 1});
  CHECK(node(g, "clip2").attr<ClipAttrs>().max == 6.0f);
  CHECK(node(g, "clip2").inputs.size() == 1);  // bounds resolved into attributes
  CHECK(!g.has("clip_min"));                   // and the initializers dropped
  const auto& p2 = node(g, "pool2").attr<PoolAttrs>();
  CHECK(p2.count_include_pad);
  CHECK(node(g, "bn2").attr<BatchNormAttrs>().epsilon == 1e-3f);
  CHECK(node(g, "fc").attr<GemmAttrs>().trans_b);
  CHECK(g.tensor("conv1_w").is_const);
  CHECK(g.tensor("conv1_w").f32.size() == 72);
}

TEST_CASE("negative axes are normalised, Reshape 0/-1 resolved, Constant nodes become constants",
          "[compiler][import]") {
  const Graph d = import_model(test_model("depthwise_separable", 2).bytes, 2);
  CHECK(node(d, "cat").attr<ConcatAttrs>().axis == 1);
  CHECK(d.tensor("cat").shape == Shape{2, 20, 8, 8});
  CHECK(d.tensor("dw").shape == Shape{2, 8, 8, 8});  // asymmetric pads {1,1,0,0}
  CHECK(node(d, "dw").attr<ConvAttrs>().group == 8);
  CHECK(d.tensor("ap").shape == Shape{2, 20, 4, 4});
  CHECK(node(d, "y").attr<ReshapeAttrs>().target == Shape{0, -1});
  const Graph m = import_model(test_model("mlp", 4).bytes, 4);
  CHECK(m.tensor("rows").shape == Shape{4, 8, 8});
  CHECK(m.tensor("mm1").shape == Shape{4, 8, 16});
  CHECK(m.tensor("flat").shape == Shape{4, 128});
  CHECK(m.tensor("b1").f32.size() == 16);  // float_data, not raw_data
  const Graph c = import_model(test_model("clip_opset6", 2).bytes, 2);
  CHECK(c.opset == 6);
  CHECK(node(c, "clipped").attr<ClipAttrs>().min == -0.5f);
  CHECK(node(c, "clipped").attr<ClipAttrs>().max == 0.5f);
}

TEST_CASE("the batch option binds a dynamic first dimension", "[compiler][import]") {
  for (int64_t batch : {1, 7}) {
    const Graph g = import_model(test_model("residual", batch).bytes, batch);
    CHECK(g.tensor("x").shape == Shape{batch, 4, 12, 12});
    CHECK(g.tensor("mp").shape == Shape{batch, 8, 6, 6});
    CHECK(g.tensor("y").shape == Shape{batch, 10});
  }
}

TEST_CASE("QDQ parameters are resolved into the nodes' attributes", "[compiler][import][qdq]") {
  const Graph g = import_model(test_model("qdq_int8", 2).bytes, 2);
  const auto& w1 = node(g, "w1").attr<QuantAttrs>();
  CHECK(node(g, "w1").op == Op::DequantizeLinear);
  CHECK(w1.qtype == ElemType::I8);
  CHECK(w1.axis == 0);
  CHECK(w1.scale.size() == 8);
  CHECK(w1.zero_point == std::vector<int64_t>(8, 0));
  const auto& b1 = node(g, "b1").attr<QuantAttrs>();  // no zero point given: int32, zeros
  CHECK(b1.qtype == ElemType::I32);
  CHECK(b1.zero_point == std::vector<int64_t>(8, 0));
  const auto& xq = node(g, "xq_q").attr<QuantAttrs>();
  CHECK(xq.per_tensor());
  CHECK(xq.scale == std::vector<float>{1.0f / 127});
  CHECK(g.tensor("xq_q").type == ElemType::I8);
  CHECK(g.tensor("w1_q").type == ElemType::I8);
  CHECK(!g.has("w1_scale"));
  const Graph u = import_model(test_model("qdq_uint8", 2).bytes, 2);
  CHECK(node(u, "a1_q").attr<QuantAttrs>().zero_point == std::vector<int64_t>{10});
  CHECK(u.tensor("a1_q").type == ElemType::U8);
  CHECK(node(u, "w2").attr<QuantAttrs>().qtype == ElemType::U8);
  CHECK(node(u, "w2").attr<QuantAttrs>().zero_point == std::vector<int64_t>{128});
  const Graph f = import_model(test_model("qdq_int4", 2).bytes, 2);
  CHECK(f.opset == 21);
  CHECK(f.tensor("w1_q").type == ElemType::I4);
  CHECK(f.tensor("w1_q").ints.size() == 45);
  CHECK(f.tensor("w2_q").type == ElemType::I4);  // from int32_data
  CHECK(f.tensor("r1q_q").type == ElemType::U4);
  for (const char* w : {"w1_q", "w2_q"})
    for (int64_t v : f.tensor(w).ints) CHECK((v >= -7 && v <= 7));
}

TEST_CASE("int4/uint4 initializers decode the same from raw_data and int32_data (packed or not)",
          "[compiler][import][int4]") {
  const std::vector<int64_t> s4{-8, -1, 0, 3, 7}, u4{0, 1, 8, 14, 15};
  for (auto [type, vals] : {std::pair{kInt4, s4}, std::pair{kUInt4, u4}}) {
    for (int form = 0; form < 3; ++form) {
      INFO("type " << type << " form " << form);
      ModelBuilder b(21, 10);
      b.input("x", {1}).output("y");
      if (form < 2) {
        b.ints("q", {5}, type, vals, form == 0);
      } else {  // one value per int32_data entry
        auto* t = b.proto().mutable_graph()->add_initializer();
        t->set_name("q");
        t->set_data_type(type);
        t->add_dims(5);
        for (int64_t v : vals) t->add_int32_data(static_cast<int32_t>(v));
      }
      b.node("DequantizeLinear", {"q", b.scalar("s", 0.5f)}, "dq");
      b.node("Add", {"x", "dq"}, "y");
      const Graph g = import_model(b.bytes(), 2);
      CHECK(g.tensor("q").ints == vals);
      CHECK(g.tensor("q").type == static_cast<ElemType>(type));
      CHECK(g.tensor("dq").type == ElemType::F32);
    }
  }
}

TEST_CASE("initializers listed as graph inputs (IR < 4) are constants, not runtime inputs",
          "[compiler][import]") {
  ModelBuilder b(9, 3);
  b.input("x", {-1, 3}).input("w", {3}).output("y");
  b.f32("w", {3}, {1, 2, 3}, false);
  b.node("Mul", {"x", "w"}, "y");
  const Graph g = import_model(b.bytes(), 4);
  CHECK(g.inputs == std::vector<std::string>{"x"});
  CHECK(g.tensor("w").is_const);
  CHECK(g.tensor("y").shape == Shape{4, 3});
}

TEST_CASE("auto_pad SAME_UPPER / SAME_LOWER become the explicit pads ONNX defines", "[compiler][import]") {
  // x [1, 1, 6, 7]; kernel 3x4, strides 2x3: output ceil(6/2) x ceil(7/3) = 3 x 3, total pads
  // (3-1)*2+3-6 = 1 along H and (3-1)*3+4-7 = 3 along W; SAME_UPPER puts the odd one at the end.
  struct Case {
    const char* op;
    const char* mode;
    std::array<int64_t, 4> pads;  // top, left, bottom, right
  };
  for (const Case& c :
       {Case{"Conv", "SAME_UPPER", {0, 1, 1, 2}}, Case{"Conv", "SAME_LOWER", {1, 2, 0, 1}},
        Case{"MaxPool", "SAME_UPPER", {0, 1, 1, 2}}, Case{"AveragePool", "SAME_LOWER", {1, 2, 0, 1}}}) {
    INFO(c.op << " " << c.mode);
    ModelBuilder b;
    b.input("x", {1, 1, 6, 7}).output("y");
    const bool conv = std::string(c.op) == "Conv";
    std::vector<std::string> in{"x"};
    if (conv) in.push_back(b.f32("w", {1, 1, 3, 4}, std::vector<float>(12, 1.0f)));
    auto& n = b.node(c.op, in, "y", "op");
    attr(n, "auto_pad", std::string(c.mode));
    attr(n, "strides", std::vector<int64_t>{2, 3});
    if (!conv) attr(n, "kernel_shape", std::vector<int64_t>{3, 4});
    const Graph g = import_model(b.bytes());
    CHECK(g.tensor("y").shape == Shape{1, 1, 3, 3});
    const std::array<int64_t, 4> pads =
        conv ? g.nodes[0].attr<ConvAttrs>().pads : g.nodes[0].attr<PoolAttrs>().pads;
    CHECK(pads == c.pads);
  }
}
