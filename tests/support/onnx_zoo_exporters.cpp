// The zoo's model of what exporters write around the ops (onnx_zoo.h, exporter_forms): the forms
// canonicalization (compiler/canonicalize.h) rewrites, each next to an op that consumes it.
#include <cmath>

#include "tests/support/onnx_zoo.h"

namespace tpusim::testing {

namespace {

std::string ints_const(ModelBuilder& b, const std::string& name, std::vector<int64_t> v,
                       bool scalar = false) {
  auto& n = b.node("Constant", {}, name, name + "_node");
  auto* a = n.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(kInt64);
  if (!scalar) a->mutable_t()->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) a->mutable_t()->add_int64_data(x);
  return name;
}

std::string conv(ModelBuilder& b, std::mt19937& rng, const std::string& in, const std::string& out,
                 int64_t cin, int64_t cout, int64_t k) {
  const float a = std::sqrt(3.0f / static_cast<float>(cin * k * k));
  b.node(
      "Conv",
      {in, b.f32(out + "_w", {cout, cin, k, k}, uniform(rng, static_cast<size_t>(cout * cin * k * k), -a, a)),
       b.f32(out + "_b", {cout}, uniform(rng, static_cast<size_t>(cout), -0.1f, 0.1f))},
      out);
  return out;
}

}  // namespace

TestModel exporter_forms(int64_t batch) {
  std::mt19937 rng(11);
  ModelBuilder b(13);
  b.input("x", {-1, 3, 13, 13}).output("y");
  b.node("Identity", {"x"}, "x_id");
  // Pad (opset 11+: pads as an input) folded into the Conv after it.
  b.node("Pad", {"x_id", ints_const(b, "pads1", {0, 0, 1, 2, 0, 0, 2, 1})}, "x_pad");
  conv(b, rng, "x_pad", "c1", 3, 8, 3);
  b.node("Relu", {"c1"}, "r0");
  // ShuffleNet's channel shuffle (2 groups of 4) and a split into two channel Slices, concatenated.
  b.node("Reshape", {"r0", ints_const(b, "shape5", {0, 2, 4, 14, 14})}, "r0_5d");
  attr(b.node("Transpose", {"r0_5d"}, "r0_t"), "perm", std::vector<int64_t>{0, 2, 1, 3, 4});
  b.node("Reshape", {"r0_t", ints_const(b, "shape4", {0, 8, 14, 14})}, "shuffled");
  b.node("Slice", {"shuffled", ints_const(b, "s0", {0}), ints_const(b, "e0", {3}), ints_const(b, "a0", {1})},
         "lo");
  b.node("Slice",
         {"shuffled", ints_const(b, "s1", {3}), ints_const(b, "e1", {100}), ints_const(b, "a1", {-3})}, "hi");
  attr(b.node("Concat", {"hi", "lo"}, "r1"), "axis", int64_t{1});
  // MaxPool with ceil_mode: 14x14 -> ceil((14 - 3) / 2) + 1 = 7.
  auto& mp = b.node("MaxPool", {"r1"}, "mp");
  attr(mp, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  attr(mp, "ceil_mode", int64_t{1});
  // Inference Dropout with its ratio input, then a standalone BatchNormalization (pre-activation).
  b.node("Dropout", {"mp", b.scalar("ratio", 0.3f)}, "mp_drop");
  auto& bn = b.node(
      "BatchNormalization",
      {"mp_drop", b.f32("bn_g", {8}, uniform(rng, 8, 0.5f, 1.5f)),
       b.f32("bn_b", {8}, uniform(rng, 8, -0.2f, 0.2f)), b.f32("bn_m", {8}, uniform(rng, 8, -0.2f, 0.2f)),
       b.f32("bn_v", {8}, uniform(rng, 8, 0.5f, 1.5f))},
      "bn");
  attr(bn, "epsilon", 1e-5f);
  b.node("Relu", {"bn"}, "bn_relu");
  // AveragePool with ceil_mode (padding not counted) after a zero Pad of nothing.
  b.node("Pad", {"bn_relu", ints_const(b, "pads0", {0, 0, 0, 0, 0, 0, 0, 0})}, "pad0");
  auto& ap = b.node("AveragePool", {"pad0"}, "ap");
  attr(ap, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(ap, "strides", std::vector<int64_t>{2, 2});
  attr(ap, "ceil_mode", int64_t{1});
  // Sub and Div by constants.
  b.node("Sub", {"ap", b.f32("mean", {1, 8, 1, 1}, uniform(rng, 8, -0.1f, 0.1f))}, "centred");
  b.node("Div", {"centred", b.scalar("std", 0.5f)}, "scaled");
  // Zero Pad folded into an AveragePool that counts it.
  b.node("Pad", {"scaled", ints_const(b, "pads2", {0, 0, 1, 1, 0, 0, 1, 1})}, "scaled_pad");
  auto& ap2 = b.node("AveragePool", {"scaled_pad"}, "ap2");
  attr(ap2, "kernel_shape", std::vector<int64_t>{3, 3});
  // ReduceMean over H and W without keepdims, then a flatten through a shape subgraph.
  auto& rm = b.node("ReduceMean", {"ap2"}, "rm");
  attr(rm, "axes", std::vector<int64_t>{2, 3});
  attr(rm, "keepdims", int64_t{0});
  b.node("Shape", {"rm"}, "rm_shape");
  b.node("Gather", {"rm_shape", ints_const(b, "zero", {0}, true)}, "rm_n");
  b.node("Unsqueeze", {"rm_n", ints_const(b, "axes0", {0})}, "rm_n1");
  b.node("Concat", {"rm_n1", ints_const(b, "minus1", {-1})}, "flat_shape");
  attr(*b.proto().mutable_graph()->mutable_node(b.proto().graph().node_size() - 1), "axis", int64_t{0});
  b.node("Reshape", {"rm", "flat_shape"}, "flat");
  b.node("Gemm",
         {"flat", b.f32("fc_w", {8, 5}, uniform(rng, 40, -0.6f, 0.6f)),
          b.f32("fc_b", {5}, uniform(rng, 5, -0.1f, 0.1f))},
         "fc");
  b.node("Identity", {"fc"}, "y");
  return {"exporter_forms", b.bytes(), {batch, 3, 13, 13}, false, 0.0f};
}

}  // namespace tpusim::testing
