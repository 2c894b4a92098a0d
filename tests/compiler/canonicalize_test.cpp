// Canonicalization (compiler/canonicalize.h): exporter forms become the compiler's op set, values
// are unchanged (checked against hand-computed results here and against ONNX Runtime in
// fp32_vs_ort_test.cpp), what cannot be canonicalized is one line naming the node, and a
// canonicalized model lowers and simulates bit-exactly.
#include "compiler/canonicalize.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>

#include "base/error.h"
#include "base/npy.h"
#include "compiler/calibrate.h"
#include "compiler/fp32_interp.h"
#include "compiler/lower.h"
#include "tests/compiler/backend_helpers.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

std::string ints_init(ModelBuilder& b, const std::string& name, const std::vector<int64_t>& v) {
  return b.ints(name, {static_cast<int64_t>(v.size())}, kInt64, v);
}

}  // namespace

TEST_CASE("canonicalization leaves only the compiler's ops in an exporter's graph", "[compiler][canon]") {
  const Graph g = import_model(exporter_forms(2).bytes, 2);
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.push_back(op_name(n.op));
  CHECK(ops == std::vector<std::string>{"Conv", "Relu", "ChannelGather", "ChannelGather", "ChannelGather",
                                        "Concat", "MaxPool", "BatchNormalization", "Relu", "AveragePool",
                                        "Add", "Mul", "AveragePool", "GlobalAveragePool", "Reshape",
                                        "Reshape", "Gemm"});
  CHECK(g.outputs == std::vector<std::string>{"y"});
  CHECK(g.nodes.back().outputs[0] == "y");  // the Identity onto the output: Gemm writes y
  CHECK(g.nodes[0].attr<ConvAttrs>().pads == std::array<int64_t, 4>{1, 2, 2, 1});
  CHECK(g.tensor("mp").shape == Shape{2, 8, 7, 7});  // ceil_mode: 14x14 -> 7x7, not 6x6
  CHECK(g.nodes[2].attr<GatherAttrs>().channels == std::vector<int64_t>{0, 4, 1, 5, 2, 6, 3, 7});
  CHECK(g.nodes[6].attr<PoolAttrs>().pads == std::array<int64_t, 4>{0, 0, 1, 1});
  CHECK(g.tensor("ap").shape == Shape{2, 8, 4, 4});  // ceil_mode 7 -> 4: one extra row/column of padding
  CHECK(g.nodes[9].attr<PoolAttrs>().pads == std::array<int64_t, 4>{0, 0, 1, 1});
  const auto& ap2 = g.nodes[12].attr<PoolAttrs>();  // the zero Pad counted by the pool
  CHECK(ap2.pads == std::array<int64_t, 4>{1, 1, 1, 1});
  CHECK(ap2.count_include_pad);
  CHECK(g.tensor("flat").shape == Shape{2, 8});
}

TEST_CASE("ceil_mode pooling and ReduceMean compute what ONNX defines", "[compiler][canon]") {
  ModelBuilder b;
  b.input("x", {1, 1, 4, 5}).output("y");
  auto& mp = b.node("MaxPool", {"x"}, "mp");
  attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  attr(mp, "ceil_mode", int64_t{1});  // 4x5 -> 2x3, the last column a window of one
  auto& ap = b.node("AveragePool", {"x"}, "ap");
  attr(ap, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(ap, "strides", std::vector<int64_t>{2, 2});
  attr(ap, "ceil_mode", int64_t{1});  // 4x5 -> 2x2, windows clipped at the border, mean of what is inside
  auto& rm = b.node("ReduceMean", {"ap"}, "rm");
  attr(rm, "axes", std::vector<int64_t>{-1, -2});
  b.node("Concat", {"mp", "mp"}, "cat");
  attr(*b.proto().mutable_graph()->mutable_node(3), "axis", int64_t{1});
  b.node("Add", {"rm", "cat"}, "y");
  const Graph g = import_model(b.bytes());
  std::vector<float> x(20);
  for (int i = 0; i < 20; ++i) x[static_cast<size_t>(i)] = static_cast<float>((i * 7) % 11);  // rows of 5
  // x = [0 7 3 10 6 / 2 9 5 1 8 / 4 0 7 3 10 / 6 2 9 5 1]
  const TensorMap out = run_fp32(g, {{"x", make_f32("x", {1, 1, 4, 5}, x)}});
  CHECK(out.at("mp").f32 == std::vector<float>{9, 10, 8, 6, 9, 10});
  // ap windows: rows {0,1,2} x cols {0,1,2}, {2,3,4}; rows {2,3} x ...
  const std::vector<float> want_ap{(0 + 7 + 3 + 2 + 9 + 5 + 4 + 0 + 7) / 9.0f,
                                   (3 + 10 + 6 + 5 + 1 + 8 + 7 + 3 + 10) / 9.0f,
                                   (4 + 0 + 7 + 6 + 2 + 9) / 6.0f, (7 + 3 + 10 + 9 + 5 + 1) / 6.0f};
  REQUIRE(out.at("ap").f32.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(out.at("ap").f32[i] == Approx(want_ap[i]));
  const float mean = (want_ap[0] + want_ap[1] + want_ap[2] + want_ap[3]) / 4;
  REQUIRE(out.at("rm").f32.size() == 1);
  CHECK(out.at("rm").f32[0] == Approx(mean));
  CHECK(g.tensor("rm").shape == Shape{1, 1, 1, 1});
}

TEST_CASE("constant subgraphs fold: Slice, Transpose, Gather, Cast, Range, ConstantOfShape, arithmetic",
          "[compiler][canon]") {
  ModelBuilder b;
  b.input("x", {2, 12}).output("y");
  // target = Concat(Slice(Shape(x), 0, 1), Cast(Range(3, 7, 2) * 2 - 2)[1:]) = [2, 12 / 2 + ...]
  b.node("Shape", {"x"}, "s");
  b.node("Slice", {"s", ints_init(b, "st", {0}), ints_init(b, "en", {1})}, "n");
  b.node("Range",
         {b.ints("r0", {}, kInt64, {3}), b.ints("r1", {}, kInt64, {7}), b.ints("r2", {}, kInt64, {2})},
         "rg");                                                      // [3, 5]
  b.node("Mul", {"rg", b.ints("two", {}, kInt64, {2})}, "rg2");      // [6, 10]
  b.node("Sub", {"rg2", b.ints("four", {}, kInt64, {4})}, "rg3");    // [2, 6]
  b.node("Gather", {"rg3", ints_init(b, "idx", {1})}, "six");        // [6]
  b.node("Div", {"six", b.ints("three", {}, kInt64, {3})}, "d");     // [2]
  b.node("Concat", {"n", "d", ints_init(b, "m1", {-1})}, "target");  // [2, 2, -1]
  attr(*b.proto().mutable_graph()->mutable_node(b.proto().graph().node_size() - 1), "axis", int64_t{0});
  b.node("Reshape", {"x", "target"}, "x3");                                        // [2, 2, 6]
  auto& tr = b.node("Transpose", {b.f32("w", {2, 3}, {1, 2, 3, 4, 5, 6})}, "wt");  // [[1 4] [2 5] [3 6]]
  attr(tr, "perm", std::vector<int64_t>{1, 0});
  b.node("ConstantOfShape", {ints_init(b, "cs", {3, 2})}, "zeros");
  auto& cast = b.node("Cast", {"zeros"}, "zf");
  attr(cast, "to", int64_t{1});
  b.node("Add", {"wt", "zf"}, "w2");
  b.node("Flatten", {"x3"}, "x4");  // [2, 12] again
  b.node("Slice",
         {"x4", ints_init(b, "s0", {9}), ints_init(b, "s1", {-100}), ints_init(b, "s2", {1}),
          ints_init(b, "s3", {-3})},
         "x5");  // columns 9, 6, 3, 0 of an activation: a negative step, refused (a DMA walks forward)
  b.node("MatMul", {"x", b.f32("wide", {12, 3}, std::vector<float>(36, 0.5f))}, "mm");
  b.node("MatMul", {"mm", "w2"}, "y0");
  b.node("Identity", {"y0"}, "y");
  const std::string err = import_error(b.bytes());
  CHECK(err.find("node 'x5' (Slice): step -3 along axis 1: only positive steps are supported") !=
        std::string::npos);
  // Without the activation Slice the rest folds.
  auto* nodes = b.proto().mutable_graph()->mutable_node();
  for (int i = 0; i < nodes->size(); ++i)
    if (nodes->Get(i).output(0) == "x5") nodes->DeleteSubrange(i, 1);
  const Graph g = import_model(b.bytes());
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.push_back(op_name(n.op));
  CHECK(ops == std::vector<std::string>{"Reshape", "Flatten", "MatMul", "MatMul"});
  CHECK(g.nodes[0].attr<ReshapeAttrs>().target == Shape{2, 2, -1});
  const Tensor* w2 = g.constant("w2");
  REQUIRE(w2);
  CHECK(w2->shape == Shape{3, 2});
  CHECK(w2->f32 == std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("canonicalization refuses what it cannot rewrite, in one line naming the node",
          "[compiler][canon]") {
  auto pool_after_pad = [](const char* pool, const char* mode, std::vector<int64_t> pads) {
    ModelBuilder b;
    b.input("x", {1, 2, 6, 6}).output("y");
    auto& p = b.node("Pad", {"x", ints_init(b, "pads", pads)}, "xp", "pad");
    attr(p, "mode", std::string(mode));
    auto& n = b.node(pool, {"xp"}, "y", "pool");
    attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    return b.bytes();
  };
  CHECK(import_error(pool_after_pad("MaxPool", "constant", {0, 0, 1, 1, 0, 0, 1, 1})) ==
        "m.onnx: node 'pad' (Pad): only a constant-mode Pad with value 0 before a Conv or pool is supported "
        "(supported ops: docs/compiler.md, \"Operators\")");
  CHECK(import_error(pool_after_pad("AveragePool", "reflect", {0, 0, 1, 1, 0, 0, 1, 1}))
            .starts_with("m.onnx: node 'pad' (Pad): only a constant-mode Pad"));
  CHECK(import_error(pool_after_pad("MaxPool", "constant", {0, 1, 1, 1, 0, 0, 1, 1})) ==
        "m.onnx: node 'pad' (Pad): padding along N or C is not supported");
  CHECK_NOTHROW(import_model(pool_after_pad("MaxPool", "constant", {0, 0, 0, 0, 0, 0, 0, 0})));
  CHECK_NOTHROW(import_model(pool_after_pad("AveragePool", "constant", {0, 0, 1, 0, 0, 0, 0, 1})));
  {
    ModelBuilder b;
    b.input("x", {1, 2, 5, 5}).output("y");
    auto& n = b.node("AveragePool", {"x"}, "y", "pool");
    attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    attr(n, "strides", std::vector<int64_t>{2, 2});
    attr(n, "ceil_mode", int64_t{1});
    attr(n, "count_include_pad", int64_t{1});
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'pool' (AveragePool): ceil_mode=1 with count_include_pad=1 and a window past the "
          "padding is not supported");
  }
  {
    ModelBuilder b;
    b.input("x", {1, 4}).output("y").output("m", 9);
    b.node("Dropout", {"x"}, "y", "drop").add_output("m");
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'drop' (Dropout): its mask output is used (training-mode Dropout is not supported)");
  }
  {
    ModelBuilder b;
    b.input("x", {1, 2, 3}).output("y");
    b.node("Neg", {"x"}, "y", "t");
    const std::string err = import_error(b.bytes());
    CHECK(err.starts_with(
        "m.onnx: node 't' (Neg): supported only on constant inputs (shape computations folded "
        "at compile time)"));
    CHECK(err.find("docs/compiler.md") != std::string::npos);
  }
}

TEST_CASE("an exporter's FP32 model calibrates, lowers and simulates bit-exactly on every preset",
          "[compiler][canon]") {
  const Graph g = import_model(exporter_forms(1).bytes, 1);
  std::mt19937 rng(3);
  NpyArray calib;
  calib.shape = {8, 3, 13, 13};
  const std::vector<float> v = uniform(rng, 8 * 3 * 13 * 13, -1.0f, 1.0f);
  calib.data.resize(v.size() * 4);
  std::memcpy(calib.data.data(), v.data(), calib.data.size());
  for (const char* bits : {"w8a8", "w4a8"}) {
    CalibConfig c;
    c.method = CalibMethod::Mse;
    parse_bits(bits, c);
    const IntGraph ig = lower_qdq(quantize_fp32(g, calib, c).graph);
    bool has_affine_conv = false;  // the standalone BatchNormalization: a depthwise 1x1 conv
    for (const IOp& op : ig.ops)
      if (const IConv* cv = op.as<IConv>(); cv && cv->groups == 8 && cv->kernel[0] == 1)
        has_affine_conv = true;
    CHECK(has_affine_conv);
    CHECK(std::count_if(ig.ops.begin(), ig.ops.end(),
                        [](const IOp& op) { return op.as<IGather>() != nullptr; }) == 3);
    for (const char* preset : {"edge", "default", "server"}) {
      INFO(bits << " on " << preset);
      betest::check_bitexact(ig, arch_preset(preset), std::string(preset) == "edge", 5);
    }
  }
}

TEST_CASE("Split along the channels becomes one ChannelGather per output, along other axes Rearranges",
          "[compiler][canon]") {
  for (const bool sizes_given : {true, false}) {
    INFO("sizes " << (sizes_given ? "given" : "equal parts"));
    ModelBuilder b;
    b.input("x", {2, 6, 2, 2}).output("a").output("b");
    std::vector<std::string> ins{"x"};
    if (sizes_given) ins.push_back(ints_init(b, "split", {2, 4}));
    auto& s = b.node("Split", ins, "a");
    s.add_output("b");
    attr(s, "axis", int64_t{1});
    const Graph g = import_model(b.bytes(), 2);
    REQUIRE(g.nodes.size() == 2);
    CHECK(g.nodes[0].op == Op::ChannelGather);
    const int64_t ca = sizes_given ? 2 : 3;
    CHECK(g.tensor("a").shape == Shape{2, ca, 2, 2});
    CHECK(g.tensor("b").shape == Shape{2, 6 - ca, 2, 2});
    std::vector<float> x(48);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
    const TensorMap out = run_fp32(g, {{"x", make_f32("x", {2, 6, 2, 2}, x)}});
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 6; ++c)
        for (int64_t k = 0; k < 4; ++k) {
          const float want = x[static_cast<size_t>((n * 6 + c) * 4 + k)];
          const bool in_a = c < ca;
          const Tensor& t = out.at(in_a ? "a" : "b");
          const int64_t cc = in_a ? c : c - ca, C = in_a ? ca : 6 - ca;
          CHECK(t.f32[static_cast<size_t>((n * C + cc) * 4 + k)] == want);
        }
  }
  // Along another axis: Rearranges (pass_rewrite_rearrange.cpp), rows 0 and 1..2 of x.
  ModelBuilder b;
  b.input("x", {3, 2}).output("a").output("b");
  auto& s = b.node("Split", {"x", ints_init(b, "sizes", {1, 2})}, "a");
  s.add_output("b");
  attr(s, "axis", int64_t{0});
  const Graph g = import_model(b.bytes(), 3);
  REQUIRE(g.nodes.size() == 2);
  CHECK(g.nodes[0].op == Op::Rearrange);
  const TensorMap out = run_fp32(g, {{"x", make_f32("x", {3, 2}, {1, 2, 3, 4, 5, 6})}});
  CHECK(out.at("a").f32 == std::vector<float>{1, 2});
  CHECK(out.at("b").f32 == std::vector<float>{3, 4, 5, 6});
}

TEST_CASE("a transformer's decomposed LayerNorm and GELU become one op each; its class token is folded",
          "[compiler][canon]") {
  for (int64_t opset : {13, 17}) {
    INFO("opset " << opset);
    const Graph g = import_model(transformer_forms(2, opset).bytes, 2);
    std::map<std::string, int> ops;
    for (const Node& n : g.nodes) ++ops[op_name(n.op)];
    CHECK(ops["LayerNormalization"] == 3);
    CHECK(ops["Gelu"] == 1);
    CHECK(ops["Softmax"] == 1);
    CHECK(ops["MatMul"] == 6);  // qkv, q.k, p.v, proj, fc1, fc2
    for (const char* gone : {"ReduceMean", "Pow", "Sqrt", "Erf", "Div", "Sub", "Expand", "Where", "Equal"})
      CHECK(ops.count(gone) == 0);
    const Node& ln = *std::find_if(g.nodes.begin(), g.nodes.end(),
                                   [](const Node& n) { return n.op == Op::LayerNormalization; });
    CHECK(ln.attr<LayerNormAttrs>().axis == 2);
    CHECK(ln.attr<LayerNormAttrs>().epsilon == Approx(1e-6f));
    CHECK(ln.outputs[0] == "ln1");
    CHECK(!ln.input(1).empty());
    CHECK(!ln.input(2).empty());
    CHECK(g.tensor("cls_n").shape == Shape{2, 1, 16});  // the expanded class token, a constant now
    CHECK(g.tensor("cls_out").shape == Shape{2, 16});   // x[:, 0]: a strided copy and a Reshape
  }
}

TEST_CASE("LayerNorm and Softmax compute what ONNX defines", "[compiler][canon]") {
  // Hand-computed: one row [1, 2, 3, 6] -> mean 3, var (4 + 1 + 0 + 9) / 4 = 3.5.
  ModelBuilder b(17);
  b.input("x", {2, 4}).output("y").output("p");
  auto& ln = b.node(
      "LayerNormalization",
      {"x", b.f32("g", {4}, {1.0f, 2.0f, 1.0f, 0.5f}), b.f32("b", {4}, {0.0f, 0.0f, 1.0f, 0.0f})}, "y");
  attr(ln, "epsilon", 0.5f);
  attr(b.node("Softmax", {"x"}, "p"), "axis", int64_t{0});
  const Graph g = import_model(b.bytes());
  const Tensor x = make_f32("x", {2, 4}, {1, 2, 3, 6, 0, 0, 0, 0});
  const TensorMap out = run_fp32(g, {{"x", x}});
  const double s = 1.0 / std::sqrt(3.5 + 0.5);
  const std::vector<double> want{-2 * s, -1 * s * 2, 0 * s + 1, 3 * s * 0.5, 0, 0, 1, 0};
  for (size_t i = 0; i < want.size(); ++i) CHECK(out.at("y").f32[i] == Approx(want[i]).margin(1e-6));
  // Softmax along axis 0 (opset 13: that axis alone): column 3 is softmax([6, 0]).
  CHECK(out.at("p").f32[3] == Approx(std::exp(6.0) / (std::exp(6.0) + 1.0)));
  CHECK(out.at("p").f32[7] == Approx(1.0 / (std::exp(6.0) + 1.0)));
  CHECK(out.at("p").f32[0] + out.at("p").f32[4] == Approx(1.0));
}
