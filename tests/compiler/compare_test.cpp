// Per-layer FP32-vs-quantized comparison (compiler/compare.h) and the QDQ strip pass
// (compiler/strip_qdq.h). The last case writes the models, images and reference dumps the CLI
// test (tests/cli/compare_test.cmake) reads.
#include "compiler/compare.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <string_view>

#include "base/error.h"
#include "base/file_io.h"
#include "compiler/fp32_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "compiler/strip_qdq.h"
#include "compiler/tensor_io.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

const std::string kDir = std::string(TPUSIM_BINARY_DIR) + "/tests/compare_models/";

// A small conv net, with (qdq) or without activation QDQ pairs: Conv(x) and a 1x1 Conv(x) (two
// consumers of one quantized tensor), ReLU, Add, MaxPool, Flatten, Gemm. Weights are
// DequantizeLinear of int8 constants in both (w_dq) or, for the FP32 export (float weights),
// the same values as float initializers.
enum class Form { Qdq, Plain, FloatWeights };
std::string conv_net(Form form) {
  std::mt19937 rng(3);
  ModelBuilder b;
  b.input("x", {-1, 2, 6, 6}).output(form == Form::Qdq ? "y" : "fc");
  const bool q = form == Form::Qdq;
  auto act = [&](const std::string& t, const std::string& out, float s, int64_t zp, int32_t ty) {
    return q ? add_qdq(b, t, out, s, zp, ty) : t;
  };
  auto weight = [&](const std::string& name, const std::vector<int64_t>& shape, size_t n, float s) {
    const std::vector<int64_t> w = uniform_ints(rng, n, -127, 127);
    if (form != Form::FloatWeights) return add_dq_const(b, name, shape, kInt8, w, {s});
    std::vector<float> f;
    for (int64_t v : w) f.push_back(static_cast<float>(v) * s);
    return b.f32(name, shape, f);
  };
  const std::string x = act("x", "xq", 1.0f / 127, 0, kInt8);
  attr(b.node("Conv", {x, weight("w1", {4, 2, 3, 3}, 72, 0.4f / 127)}, "c1"), "pads",
       std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, "r1");
  const std::string r1 = act("r1", "r1q", 3.0f / 255, 0, kUInt8);
  b.node("Conv", {x, weight("w2", {4, 2, 1, 1}, 8, 0.6f / 127)}, "c2");
  const std::string c2 = act("c2", "c2q", 2.0f / 127, 0, kInt8);
  b.node("Add", {r1, c2}, "sum");
  const std::string sum = act("sum", "sumq", 4.0f / 127, 0, kInt8);
  auto& mp = b.node("MaxPool", {sum}, "mp");
  attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  b.node("Flatten", {"mp"}, "flat");
  attr(b.node("Gemm", {"flat", weight("w3", {5, 36}, 180, 0.3f / 127)}, "fc"), "transB", int64_t{1});
  act("fc", "y", 3.0f / 127, 0, kInt8);
  return b.bytes();
}

NpyArray images(std::vector<int64_t> shape, unsigned seed) {
  std::mt19937 rng(seed);
  return make_npy_f32(shape, uniform(rng, static_cast<size_t>(num_elements(shape)), -1.0f, 1.0f));
}

std::string save(const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(kDir);
  write_file_atomic(kDir + name, std::string_view(bytes));
  return kDir + name;
}

}  // namespace

TEST_CASE("compare: layer_error on hand-computed vectors", "[compare]") {
  const std::vector<float> x = {1, 2, 3}, q = {1, 2, 2};
  const LayerError e = layer_error(x, q);
  CHECK(e.cosine == Approx(11.0 / std::sqrt(14.0 * 9.0)).epsilon(1e-12));  // x.q = 11, |x|^2 = 14, |q|^2 = 9
  CHECK(e.sqnr_db == Approx(10.0 * std::log10(14.0)).epsilon(1e-12));      // error energy 1
  CHECK(e.max_abs_err == 1.0);
  CHECK(e.fp32_max_abs == 3.0);
  const std::vector<float> n = {-0.5f, 0.25f}, m = {-0.25f, 0.25f};
  const LayerError f = layer_error(n, m);
  CHECK(f.max_abs_err == 0.25);
  CHECK(f.fp32_max_abs == 0.5);
  CHECK(f.sqnr_db == Approx(10.0 * std::log10(0.3125 / 0.0625)).epsilon(1e-12));
  const LayerError same = layer_error(x, x);
  CHECK(same.cosine == 1.0);
  CHECK(std::isinf(same.sqnr_db));
  CHECK(same.sqnr_db > 0);
  CHECK(same.max_abs_err == 0.0);
  const std::vector<float> z = {0, 0, 0};
  CHECK(layer_error(z, z).cosine == 1.0);
  CHECK(layer_error(x, z).cosine == 0.0);
  CHECK_THROWS_AS(layer_error(x, m), Error);
}

TEST_CASE("compare: strip_activation_qdq equals the model built without activation QDQ", "[compare]") {
  const Graph qdq = import_model(conv_net(Form::Qdq), 3), plain = import_model(conv_net(Form::Plain), 3);
  const Graph stripped = strip_activation_qdq(qdq);
  int quant = 0, dequant = 0;
  for (const Node& n : stripped.nodes) {
    quant += n.op == Op::QuantizeLinear;
    dequant += n.op == Op::DequantizeLinear;
  }
  CHECK(quant == 0);
  CHECK(dequant == 3);  // the weights stay DequantizeLinear of their int8 constants
  CHECK(stripped.outputs == std::vector<std::string>{"fc"});
  const NpyArray a = images({3, 2, 6, 6}, 5);
  std::vector<float> x(a.elements());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(a.at_f64(i));
  const TensorMap in = {{"x", make_f32("x", {3, 2, 6, 6}, x)}};
  const TensorMap s = run_fp32(stripped, in), p = run_fp32(plain, in);
  for (const char* t : {"c1", "r1", "c2", "sum", "mp", "flat", "fc"}) {
    INFO(t);
    REQUIRE(s.count(t));
    CHECK(s.at(t).f32 == p.at(t).f32);
  }
  // The QDQ model itself differs (its activations are rounded): the pass did something.
  CHECK(run_fp32(qdq, in).at("y").f32 != p.at("fc").f32);
}

TEST_CASE("compare: the QDQ zoo, every layer matched", "[compare]") {
  for (const TestModel& m :
       {test_model("qdq_int8", 1), test_model("qdq_uint8", 1), test_model("qdq_int4", 1), qdq_depthwise(1)}) {
    INFO(m.name);
    CompareInputs in;
    in.model = save("zoo_" + m.name + ".onnx", m.bytes);
    std::vector<int64_t> shape = m.input_shape;
    shape[0] = 4;
    in.input = images(shape, 11);
    const CompareRun run = run_compare(in);
    CHECK(run.images == 4);
    const CompareResult r = compare_layers(run.graph, run.ref.values, run.fp32);
    CHECK(r.skipped.empty());
    CHECK(r.layers.size() == run.graph.ops.size() + 1);
    CHECK(r.layers[0].op == "input");
    CHECK(r.layers[0].shape == shape);
    for (const LayerError& e : r.layers) {
      INFO(e.name << " (" << e.float_name << ") cosine " << e.cosine);
      CHECK(e.cosine > (m.name == "qdq_int4" ? 0.9 : 0.99));
      CHECK(e.sqnr_db > 0);
    }
    const CompareResult viaModel = compare_model(in);
    REQUIRE(viaModel.layers.size() == r.layers.size());
    CHECK(viaModel.layers.back().sqnr_db == r.layers.back().sqnr_db);
  }
}

TEST_CASE("compare: an FP32 export matched by name, and one with other names", "[compare]") {
  CompareInputs in;
  in.model = save("net_qdq.onnx", conv_net(Form::Qdq));
  in.fp32_model = save("net_fp32.onnx", conv_net(Form::FloatWeights));
  in.input = images({2, 2, 6, 6}, 12);
  const CompareResult r = compare_model(in);
  CHECK(r.skipped.empty());
  REQUIRE(r.layers.size() == 6);  // input, conv, conv, add, pool, matmul
  for (const LayerError& e : r.layers) CHECK(e.cosine > 0.99);
  CHECK(r.layers.back().float_name == "fc");
  // Another network on the same input: only the input matches, which is no comparison.
  ModelBuilder b;
  b.input("x", {-1, 2, 6, 6}).output("other");
  b.node("Relu", {"x"}, "other");
  in.fp32_model = save("other.onnx", b.bytes());
  CHECK_THROWS_WITH(compare_model(in), Catch::Contains("other.onnx: no tensor of the FP32 run matches"));
}

TEST_CASE("compare: 4-bit quantization of the same FP32 model has a lower SQNR", "[compare]") {
  for (const char* name : {"conv_bn_relu_pool", "mlp"}) {
    INFO(name);
    const TestModel m = test_model(name, 1);
    CompareInputs in;
    in.model = save(std::string("fp32_") + name + ".onnx", m.bytes);
    std::vector<int64_t> shape = m.input_shape;
    shape[0] = 16;
    in.calib = images(shape, 7);
    shape[0] = 8;
    in.input = images(shape, 8);
    in.calib_config.method = CalibMethod::MinMax;
    const CompareResult w8 = compare_model(in);
    parse_bits("w4a4", in.calib_config);
    const CompareResult w4 = compare_model(in);
    REQUIRE(w8.layers.size() == w4.layers.size());
    CHECK(w8.skipped.empty());
    double s8 = 0, s4 = 0;
    for (size_t i = 1; i < w8.layers.size(); ++i) s8 += w8.layers[i].sqnr_db, s4 += w4.layers[i].sqnr_db;
    CHECK(s4 < s8);
    CHECK(w4.layers.back().sqnr_db < w8.layers.back().sqnr_db);
    CHECK(w8.layers.back().cosine > 0.99);
  }
}

TEST_CASE("compare: input errors name the file", "[compare]") {
  CompareInputs in;
  in.model = save("zoo_qdq_int8.onnx", test_model("qdq_int8", 1).bytes);
  in.input = images({2, 3, 16, 16}, 1);
  in.input_source = "x.npy";
  CHECK_THROWS_WITH(run_compare(in), Catch::Contains("x.npy: shape [2, 3, 16, 16] does not fit input 'x'"));
  in.input = images({16, 16}, 1);
  CHECK_THROWS_WITH(run_compare(in), Catch::Contains("x.npy: shape [16, 16] does not fit input 'x'"));
  in.input.type = NpyType::I32;
  CHECK_THROWS_WITH(run_compare(in), Catch::Contains("x.npy: images are int32, expected float32"));
  in.input = images({1, 16, 16}, 1);  // one image without N
  CHECK(run_compare(in).images == 1);
  in.model = save("fp32_mlp.onnx", test_model("mlp", 1).bytes);
  in.input = images({2, 1, 8, 8}, 1);
  CHECK_THROWS_WITH(run_compare(in), Catch::Contains("give calibration data (--calib)"));
}

// Writes what tests/cli/compare_test.cmake reads: the models, images, calibration data and the two
// runs' tensors dumped by the interpreters directly (the python check recomputes the metrics).
TEST_CASE("compare: models and reference dumps for the CLI test", "[compare]") {
  for (const TestModel& m :
       {test_model("qdq_int8", 1), test_model("qdq_uint8", 1), test_model("qdq_int4", 1), qdq_depthwise(1)}) {
    save("zoo_" + m.name + ".onnx", m.bytes);
    std::vector<int64_t> shape = m.input_shape;
    shape[0] = 3;
    save_npy(images(shape, 21), kDir + "x_" + m.name + ".npy");
  }
  save("fp32_mlp.onnx", test_model("mlp", 1).bytes);
  save_npy(images({16, 1, 8, 8}, 22), kDir + "calib_mlp.npy");
  save_npy(images({4, 1, 8, 8}, 23), kDir + "x_mlp.npy");
  const std::string qdq = save("net_qdq.onnx", conv_net(Form::Qdq));
  const std::string fp32 = save("net_fp32.onnx", conv_net(Form::FloatWeights));
  ModelBuilder b;  // the same input, no tensor names in common
  b.input("x", {-1, 2, 6, 6}).output("other");
  b.node("Relu", {"x"}, "other");
  save("other.onnx", b.bytes());
  const NpyArray a = images({3, 2, 6, 6}, 24);
  save_npy(a, kDir + "x_net.npy");
  std::vector<float> x(a.elements());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(a.at_f64(i));
  const TensorMap in = {{"x", make_f32("x", {3, 2, 6, 6}, x)}};
  save_tensors_npz(run_fp32(import_onnx(fp32, {3}), in), kDir + "net_fp32_dump.npz");
  const IntGraph g = lower_qdq(import_onnx(qdq, {3}));
  save_int_dump(run_int(g, quantize_inputs(g, in)), kDir + "net_int_dump.npz");
}
