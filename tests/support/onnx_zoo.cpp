// The model zoo of onnx_zoo.h: small CNNs/MLPs, FP32 and QDQ, built with ModelBuilder.
#include "tests/support/onnx_zoo.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tpusim::testing {

namespace {

size_t count(const std::vector<int64_t>& s) {
  size_t n = 1;
  for (int64_t d : s) n *= static_cast<size_t>(d);
  return n;
}

// Weights with variance ~1/fan_in, so activations stay O(1) layer after layer.
std::string weight(ModelBuilder& b, std::mt19937& rng, const std::string& name,
                   const std::vector<int64_t>& shape, int64_t fan_in) {
  const float a = std::sqrt(3.0f / static_cast<float>(fan_in));
  return b.f32(name, shape, uniform(rng, count(shape), -a, a));
}

std::string batchnorm(ModelBuilder& b, std::mt19937& rng, const std::string& in, const std::string& out,
                      int64_t c, float eps = 1e-5f) {
  const std::string p = out + "_";
  auto& n = b.node("BatchNormalization",
                   {in, b.f32(p + "gamma", {c}, uniform(rng, c, 0.5f, 1.5f)),
                    b.f32(p + "beta", {c}, uniform(rng, c, -0.2f, 0.2f)),
                    b.f32(p + "mean", {c}, uniform(rng, c, -0.2f, 0.2f)),
                    b.f32(p + "var", {c}, uniform(rng, c, 0.5f, 1.5f))},
                   out);
  attr(n, "epsilon", eps);
  return out;
}

onnx::NodeProto& conv(ModelBuilder& b, std::mt19937& rng, const std::string& in, const std::string& out,
                      int64_t cin, int64_t cout, int64_t k, bool bias, int64_t group = 1) {
  std::vector<std::string> ins{in,
                               weight(b, rng, out + "_w", {cout, cin / group, k, k}, cin / group * k * k)};
  if (bias) ins.push_back(b.f32(out + "_b", {cout}, uniform(rng, cout, -0.1f, 0.1f)));
  auto& n = b.node("Conv", ins, out);
  if (group != 1) attr(n, "group", group);
  return n;
}

TestModel finish(const std::string& name, ModelBuilder& b, std::vector<int64_t> shape, bool quantized = false,
                 float out_scale = 0.0f) {
  return {name, b.bytes(), std::move(shape), quantized, out_scale};
}

TestModel conv_bn_relu_pool(int64_t batch) {
  std::mt19937 rng(1);
  ModelBuilder b;
  b.input("x", {-1, 1, 28, 28}).output("y");
  attr(conv(b, rng, "x", "conv1", 1, 8, 3, true), "pads", std::vector<int64_t>{1, 1, 1, 1});
  batchnorm(b, rng, "conv1", "bn1", 8);
  b.node("Relu", {"bn1"}, "relu1");
  auto& p1 = b.node("MaxPool", {"relu1"}, "pool1");
  attr(p1, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(p1, "strides", std::vector<int64_t>{2, 2});
  conv(b, rng, "pool1", "conv2", 8, 16, 5, false);
  batchnorm(b, rng, "conv2", "bn2", 16, 1e-3f);
  b.node("Clip", {"bn2", b.scalar("clip_min", 0.0f), b.scalar("clip_max", 6.0f)}, "clip2");
  auto& p2 = b.node("AveragePool", {"clip2"}, "pool2");
  attr(p2, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(p2, "strides", std::vector<int64_t>{2, 2});
  attr(p2, "pads", std::vector<int64_t>{1, 1, 1, 1});
  attr(p2, "count_include_pad", int64_t{1});
  b.node("Flatten", {"pool2"}, "flat");
  auto& fc = b.node(
      "Gemm",
      {"flat", weight(b, rng, "fc_w", {10, 400}, 400), b.f32("fc_b", {10}, uniform(rng, 10, -0.1f, 0.1f))},
      "fc");
  attr(fc, "transB", int64_t{1});
  batchnorm(b, rng, "fc", "y", 10);
  return finish("conv_bn_relu_pool", b, {batch, 1, 28, 28});
}

TestModel residual(int64_t batch) {
  std::mt19937 rng(2);
  ModelBuilder b;
  b.input("x", {-1, 4, 12, 12}).output("y");
  attr(conv(b, rng, "x", "c1", 4, 8, 3, true), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, "r1");
  auto& c2 = conv(b, rng, "r1", "c2", 8, 8, 3, true);
  attr(c2, "dilations", std::vector<int64_t>{2, 2});
  attr(c2, "pads", std::vector<int64_t>{2, 2, 2, 2});
  conv(b, rng, "x", "skip", 4, 8, 1, false);
  b.node("Add", {"c2", "skip"}, "sum");
  b.node("Relu", {"sum"}, "r2");
  auto& mp = b.node("MaxPool", {"r2"}, "mp");
  attr(mp, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  attr(mp, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("GlobalAveragePool", {"mp"}, "gap");
  b.node("Flatten", {"gap"}, "flat");
  auto& fc = b.node(
      "Gemm",
      {"flat", weight(b, rng, "fc_w", {8, 10}, 8), b.f32("fc_c", {10}, uniform(rng, 10, -0.1f, 0.1f))}, "y");
  attr(fc, "alpha", 0.5f);
  attr(fc, "beta", 2.0f);
  return finish("residual", b, {batch, 4, 12, 12});
}

TestModel depthwise_separable(int64_t batch) {
  std::mt19937 rng(3);
  ModelBuilder b;
  b.input("x", {-1, 8, 16, 16}).output("y");
  auto& dw = conv(b, rng, "x", "dw", 8, 8, 3, true, 8);
  attr(dw, "strides", std::vector<int64_t>{2, 2});
  attr(dw, "pads", std::vector<int64_t>{1, 1, 0, 0});
  batchnorm(b, rng, "dw", "dw_bn", 8);
  b.node("Relu", {"dw_bn"}, "dw_relu");
  conv(b, rng, "dw_relu", "pw", 8, 16, 1, true);
  b.node("Mul", {"pw", b.f32("ch_scale", {16, 1, 1}, uniform(rng, 16, 0.5f, 2.0f))}, "scaled");
  b.node("Add", {"scaled", b.scalar("offset", 0.1f)}, "shifted");
  auto& br = conv(b, rng, "x", "branch", 8, 4, 3, false, 2);
  attr(br, "strides", std::vector<int64_t>{2, 2});
  attr(br, "pads", std::vector<int64_t>{1, 1, 0, 0});
  attr(b.node("Concat", {"shifted", "branch"}, "cat"), "axis", int64_t{-3});
  batchnorm(b, rng, "cat", "cat_bn", 20);
  auto& ap = b.node("AveragePool", {"cat_bn"}, "ap");
  attr(ap, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(ap, "strides", std::vector<int64_t>{2, 2});
  attr(ap, "pads", std::vector<int64_t>{0, 0, 1, 1});
  b.node("GlobalAveragePool", {"ap"}, "gap");
  b.node("Reshape", {"gap", b.ints("flat_shape", {2}, kInt64, {0, -1})}, "y");
  return finish("depthwise_separable", b, {batch, 8, 16, 16});
}

TestModel mlp(int64_t batch) {
  std::mt19937 rng(4);
  ModelBuilder b;
  b.input("x", {-1, 1, 8, 8}).output("y");
  auto& shape = b.node("Constant", {}, "rows_shape");
  auto* a = shape.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(kInt64);
  a->mutable_t()->add_dims(3);
  for (int64_t v : {0, 8, -1}) a->mutable_t()->add_int64_data(v);
  b.node("Reshape", {"x", "rows_shape"}, "rows");
  b.node("MatMul", {"rows", weight(b, rng, "w1", {8, 16}, 8)}, "mm1");
  b.node("Add", {"mm1", b.f32("b1", {16}, uniform(rng, 16, -0.1f, 0.1f), false)}, "h1");
  b.node("Relu", {"h1"}, "r1");
  b.node("Flatten", {"r1"}, "flat");
  auto& fc = b.node(
      "Gemm",
      {"flat", weight(b, rng, "w2", {16, 128}, 128), b.f32("c2", {16}, uniform(rng, 16, -0.1f, 0.1f))}, "fc");
  attr(fc, "transB", int64_t{1});
  b.node("Relu", {"fc"}, "r2");
  b.node("MatMul", {"r2", weight(b, rng, "w3", {16, 10}, 16)}, "y");
  return finish("mlp", b, {batch, 1, 8, 8});
}

TestModel gemm_trans() {
  std::mt19937 rng(5);
  ModelBuilder b;
  b.input("x", {6, 4}).output("y");
  auto& g = b.node(
      "Gemm", {"x", weight(b, rng, "B", {3, 6}, 6), b.f32("C", {4, 3}, uniform(rng, 12, -1.0f, 1.0f))}, "y");
  attr(g, "transA", int64_t{1});
  attr(g, "transB", int64_t{1});
  attr(g, "alpha", 0.5f);
  attr(g, "beta", 2.0f);
  return finish("gemm_trans", b, {6, 4});
}

TestModel clip_opset6(int64_t batch) {
  ModelBuilder b(6, 3);
  b.input("x", {-1, 5}).output("y");
  auto& c = b.node("Clip", {"x"}, "clipped");
  attr(c, "min", -0.5f);
  attr(c, "max", 0.5f);
  b.node("Relu", {"clipped"}, "y");
  return finish("clip_opset6", b, {batch, 5});
}

// --- QDQ helpers -------------------------------------------------------------------------------

struct QW {
  std::vector<int64_t> q;
  std::vector<float> scale;  // per output channel (axis 0) or one
};

// Symmetric quantization of a random float weight, per output channel or per tensor.
QW quant_weight(std::mt19937& rng, const std::vector<int64_t>& shape, int64_t fan_in, int64_t qmax,
                bool per_channel) {
  const float a = std::sqrt(3.0f / static_cast<float>(fan_in));
  const std::vector<float> w = uniform(rng, count(shape), -a, a);
  const size_t C = per_channel ? static_cast<size_t>(shape[0]) : 1, per = w.size() / C;
  QW r;
  for (size_t c = 0; c < C; ++c) {
    float m = 0.0f;
    for (size_t i = 0; i < per; ++i) m = std::max(m, std::fabs(w[c * per + i]));
    r.scale.push_back(m / static_cast<float>(qmax));
    for (size_t i = 0; i < per; ++i)
      r.q.push_back(static_cast<int64_t>(std::nearbyint(w[c * per + i] / r.scale[c])));
  }
  return r;
}

// QuantizeLinear + DequantizeLinear of an activation, per tensor.
std::string qdq(ModelBuilder& b, const std::string& in, const std::string& out, float scale, int64_t zp,
                int32_t type) {
  const std::string s = b.scalar(out + "_scale", scale), z = b.ints(out + "_zp", {}, type, {zp});
  b.node("QuantizeLinear", {in, s, z}, out + "_q");
  b.node("DequantizeLinear", {out + "_q", s, z}, out);
  return out;
}

// DequantizeLinear of a quantized weight: per channel along axis 0 when w.scale has > 1 entry.
std::string dq_weight(ModelBuilder& b, const std::string& name, const std::vector<int64_t>& shape,
                      const QW& w, int32_t type, bool raw = true, int64_t zp = 0) {
  const bool pc = w.scale.size() > 1;
  const std::vector<int64_t> sshape =
      pc ? std::vector<int64_t>{static_cast<int64_t>(w.scale.size())} : std::vector<int64_t>{};
  std::vector<int64_t> q = w.q;
  for (int64_t& v : q) v += zp;
  const std::string qn = b.ints(name + "_q", shape, type, q, raw);
  const std::string s = b.f32(name + "_scale", sshape, w.scale);
  const std::string z = b.ints(name + "_zp", sshape, type, std::vector<int64_t>(w.scale.size(), zp));
  auto& n = b.node("DequantizeLinear", {qn, s, z}, name);
  if (pc) attr(n, "axis", int64_t{0});
  return name;
}

// int32 bias at scale s_in * s_w[c], dequantized without a zero point.
std::string dq_bias(ModelBuilder& b, std::mt19937& rng, const std::string& name, float s_in, const QW& w) {
  const auto C = static_cast<int64_t>(w.scale.size());
  const std::vector<float> bf = uniform(rng, static_cast<size_t>(C), -0.1f, 0.1f);
  std::vector<float> s(C);
  std::vector<int64_t> q(C);
  for (int64_t c = 0; c < C; ++c) {
    s[c] = s_in * w.scale[c];
    q[c] = static_cast<int64_t>(std::nearbyint(bf[c] / s[c]));
  }
  const std::string qn = b.ints(name + "_q", {C}, kInt32, q);
  auto& n = b.node("DequantizeLinear", {qn, b.f32(name + "_scale", {C}, s)}, name);
  attr(n, "axis", int64_t{0});
  return name;
}

TestModel qdq_int8(int64_t batch) {
  std::mt19937 rng(7);
  ModelBuilder b;
  b.input("x", {-1, 1, 16, 16}).output("y");
  const float sx = 1.0f / 127, s1 = 2.5f / 127, s2 = 2.0f / 127, s3 = 1.0f / 127, so = 1.5f / 127;
  qdq(b, "x", "xq", sx, 0, kInt8);
  const QW w1 = quant_weight(rng, {8, 1, 3, 3}, 9, 127, true);
  auto& c1 = b.node("Conv",
                    {"xq", dq_weight(b, "w1", {8, 1, 3, 3}, w1, kInt8), dq_bias(b, rng, "b1", sx, w1)}, "c1");
  attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, "r1");
  qdq(b, "r1", "r1q", s1, 0, kInt8);
  auto& mp = b.node("MaxPool", {"r1q"}, "mp");
  attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  qdq(b, "mp", "mpq", s1, 0, kInt8);
  const QW w2 = quant_weight(rng, {16, 8, 3, 3}, 72, 127, true);
  auto& c2 = b.node(
      "Conv", {"mpq", dq_weight(b, "w2", {16, 8, 3, 3}, w2, kInt8), dq_bias(b, rng, "b2", s1, w2)}, "c2");
  attr(c2, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c2"}, "r2");
  qdq(b, "r2", "r2q", s2, 0, kInt8);
  b.node("GlobalAveragePool", {"r2q"}, "gap");
  qdq(b, "gap", "gapq", s3, 0, kInt8);
  b.node("Flatten", {"gapq"}, "flat");
  const QW w3 = quant_weight(rng, {10, 16}, 16, 127, true);
  auto& fc =
      b.node("Gemm", {"flat", dq_weight(b, "w3", {10, 16}, w3, kInt8), dq_bias(b, rng, "b3", s3, w3)}, "fc");
  attr(fc, "transB", int64_t{1});
  qdq(b, "fc", "y", so, 0, kInt8);
  return finish("qdq_int8", b, {batch, 1, 16, 16}, true, so);
}

TestModel qdq_uint8(int64_t batch) {
  std::mt19937 rng(8);
  ModelBuilder b;
  b.input("x", {-1, 3, 12, 12}).output("y");
  const float sx = 2.0f / 255, s1 = 3.0f / 255, s2 = 4.0f / 255, s3 = 5.0f / 255, so = 3.0f / 255;
  qdq(b, "x", "xq", sx, 128, kUInt8);
  const QW w1 = quant_weight(rng, {8, 3, 3, 3}, 27, 127, false);
  auto& c1 = b.node(
      "Conv",
      {"xq", dq_weight(b, "w1", {8, 3, 3, 3}, w1, kInt8), b.f32("b1", {8}, uniform(rng, 8, -0.1f, 0.1f))},
      "c1");
  attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, "r1");
  qdq(b, "r1", "a1", s1, 10, kUInt8);
  const QW w2 = quant_weight(rng, {8, 8, 1, 1}, 8, 127, false);
  b.node("Conv", {"a1", dq_weight(b, "w2", {8, 8, 1, 1}, w2, kUInt8, true, 128)}, "c2");
  qdq(b, "c2", "b1q", s2, 128, kUInt8);
  b.node("Add", {"a1", "b1q"}, "sum");
  qdq(b, "sum", "sumq", s3, 100, kUInt8);
  auto& ap = b.node("AveragePool", {"sumq"}, "ap");
  attr(ap, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(ap, "strides", std::vector<int64_t>{2, 2});
  qdq(b, "ap", "apq", s3, 100, kUInt8);
  b.node("Flatten", {"apq"}, "flat");
  const QW w3 = quant_weight(rng, {288, 10}, 288, 127, false);
  b.node("MatMul", {"flat", dq_weight(b, "w3", {288, 10}, w3, kInt8)}, "mm");
  b.node("Add", {"mm", b.f32("b3", {10}, uniform(rng, 10, -0.1f, 0.1f))}, "fc");
  qdq(b, "fc", "y", so, 128, kUInt8);
  return finish("qdq_uint8", b, {batch, 3, 12, 12}, true, so);
}

TestModel qdq_int4(int64_t batch) {
  std::mt19937 rng(9);
  ModelBuilder b(21, 10);
  b.input("x", {-1, 1, 10, 10}).output("y");
  const float sx = 1.0f / 127, s1 = 2.5f / 15, so = 1.5f / 127;
  qdq(b, "x", "xq", sx, 0, kInt8);
  const QW w1 = quant_weight(rng, {5, 1, 3, 3}, 9, 7, true);  // 45 elements: odd, the last byte half used
  auto& c1 = b.node("Conv",
                    {"xq", dq_weight(b, "w1", {5, 1, 3, 3}, w1, kInt4), dq_bias(b, rng, "b1", sx, w1)}, "c1");
  attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, "r1");
  qdq(b, "r1", "r1q", s1, 0, kUInt4);
  auto& mp = b.node("MaxPool", {"r1q"}, "mp");
  attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  b.node("Flatten", {"mp"}, "flat");
  const QW w2 = quant_weight(rng, {10, 125}, 125, 7, false);
  auto& fc = b.node("Gemm", {"flat", dq_weight(b, "w2", {10, 125}, w2, kInt4, /*raw=*/false)}, "fc");
  attr(fc, "transB", int64_t{1});
  qdq(b, "fc", "y", so, 0, kInt8);
  return finish("qdq_int4", b, {batch, 1, 10, 10}, true, so);
}

}  // namespace

std::vector<TestModel> test_models(int64_t batch) {
  return {conv_bn_relu_pool(batch), residual(batch), depthwise_separable(batch), mlp(batch),     gemm_trans(),
          clip_opset6(batch),       qdq_int8(batch), qdq_uint8(batch),           qdq_int4(batch)};
}

TestModel test_model(const std::string& name, int64_t batch) {
  for (TestModel& m : test_models(batch))
    if (m.name == name) return m;
  throw std::invalid_argument("no test model " + name);
}

// --- models for the quantized lowering tests (onnx_zoo.h, after test_model) ---------------

TestModel qdq_depthwise(int64_t batch) {
  std::mt19937 rng(10);
  ModelBuilder b;
  b.input("x", {-1, 8, 12, 12}).output("y");
  const float sx = 1.0f / 127;
  qdq(b, "x", "xq", sx, 0, kInt8);
  // Depthwise 3x3 with per-channel int8 weights, float bias, ReLU6 folded into the requant clamps.
  const QW wd = quant_weight(rng, {8, 1, 3, 3}, 9, 127, true);
  const std::string bd = b.f32("bd", {8}, uniform(rng, 8, -0.1f, 0.1f));
  auto& dw = b.node("Conv", {"xq", dq_weight(b, "wd", {8, 1, 3, 3}, wd, kInt8), bd}, "dw");
  attr(dw, "group", int64_t{8});
  attr(dw, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Clip", {"dw", b.scalar("six_lo", 0.0f), b.scalar("six_hi", 6.0f)}, "dw6");
  qdq(b, "dw6", "dwq", 6.0f / 255, 0, kUInt8);
  // Pointwise with an int32 bias; a 1x1 skip from the input on another scale; residual Add + ReLU.
  const QW wp = quant_weight(rng, {16, 8, 1, 1}, 8, 127, true);
  const std::string bp = dq_bias(b, rng, "bp", 6.0f / 255, wp);
  b.node("Conv", {"dwq", dq_weight(b, "wp", {16, 8, 1, 1}, wp, kInt8), bp}, "pw");
  qdq(b, "pw", "pwq", 3.0f / 127, -3, kInt8);
  const QW ws = quant_weight(rng, {16, 8, 1, 1}, 8, 127, true);
  b.node("Conv", {"xq", dq_weight(b, "ws", {16, 8, 1, 1}, ws, kInt8)}, "skip");
  qdq(b, "skip", "skq", 2.5f / 127, 0, kInt8);
  b.node("Add", {"pwq", "skq"}, "sum");
  b.node("Relu", {"sum"}, "sum_relu");
  qdq(b, "sum_relu", "sumq", 4.0f / 255, 0, kUInt8);
  // AveragePool without counting padding, MaxPool onto another scale, their product, Concat.
  auto& ap = b.node("AveragePool", {"sumq"}, "ap");
  attr(ap, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(ap, "strides", std::vector<int64_t>{2, 2});
  attr(ap, "pads", std::vector<int64_t>{1, 1, 1, 1});
  qdq(b, "ap", "apq", 3.0f / 255, 2, kUInt8);
  auto& mp = b.node("MaxPool", {"sumq"}, "mp");
  attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  qdq(b, "mp", "mpq", 5.0f / 255, 0, kUInt8);
  b.node("Mul", {"apq", "mpq"}, "prod");
  qdq(b, "prod", "prodq", 4.0f / 255, 5, kUInt8);
  attr(b.node("Concat", {"apq", "mpq", "prodq"}, "cat"), "axis", int64_t{1});
  qdq(b, "cat", "catq", 5.0f / 255, 0, kUInt8);
  b.node("GlobalAveragePool", {"catq"}, "gap");
  qdq(b, "gap", "gapq", 2.0f / 255, 0, kUInt8);
  b.node("Flatten", {"gapq"}, "flat");
  const QW wf = quant_weight(rng, {10, 48}, 48, 127, true);
  const std::string bf = b.f32("bf", {10}, uniform(rng, 10, -0.1f, 0.1f));
  auto& fc = b.node("Gemm", {"flat", dq_weight(b, "wf", {10, 48}, wf, kInt8), bf}, "fc");
  attr(fc, "transB", int64_t{1});
  qdq(b, "fc", "y", 1.5f / 127, 0, kInt8);
  return finish("qdq_depthwise", b, {batch, 8, 12, 12}, true, 1.5f / 127);
}

}  // namespace tpusim::testing
