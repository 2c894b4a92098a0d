// Shared by the ONNX export tests (onnx_export_test.cpp, onnx_export_files_test.cpp): import from
// bytes, random inputs, the FP32 models the calibration cases start from and their calibrated QDQ
// forms, a scratch folder and onnx's checker.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "compiler/calibrate.h"
#include "compiler/onnx_import.h"
#include "compiler/tensor_io.h"
#include "tests/support/onnx_zoo.h"

namespace export_test {

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;
namespace fs = std::filesystem;

inline Graph import_bytes(const std::string& b, const std::string& name, int64_t batch = 1) {
  return import_onnx_bytes(std::span(reinterpret_cast<const uint8_t*>(b.data()), b.size()), name,
                           ImportOptions{batch});
}

inline TensorMap random_inputs(const Graph& g, uint32_t seed) {
  std::mt19937 rng(seed);
  TensorMap m;
  for (const std::string& in : g.inputs) {
    const Tensor& t = g.tensor(in);
    REQUIRE(t.type == ElemType::F32);
    m[in] = make_f32(in, t.shape, uniform(rng, static_cast<size_t>(t.elements()), -1.0f, 1.0f));
  }
  return m;
}

// Every pointwise op as exporters write it (HardSwish with other alpha/beta and SiLU as
// Mul(x, gate)), each applied to x, concatenated along the channels. Opset 20 for Gelu.
inline std::string pointwise_model(bool gelu) {
  ModelBuilder b(20, 9);
  b.input("x", {-1, 3, 4, 4});
  std::vector<std::string> outs;
  auto one = [&](const std::string& op, const std::string& out) -> onnx::NodeProto& {
    outs.push_back(out);
    return b.node(op, {"x"}, out);
  };
  if (gelu) {
    one("Gelu", "gelu");
    attr(one("Gelu", "gelu_tanh"), "approximate", std::string("tanh"));
  } else {
    one("Sigmoid", "sigmoid");
    auto& hs = one("HardSigmoid", "hardsigmoid");
    attr(hs, "alpha", 0.3f);
    attr(hs, "beta", 0.4f);
    auto& gate = b.node("HardSigmoid", {"x"}, "gate1");
    attr(gate, "alpha", 0.25f);
    attr(gate, "beta", 0.45f);
    b.node("Mul", {"x", "gate1"}, "hardswish_odd");
    outs.push_back("hardswish_odd");
    one("HardSwish", "hardswish");
    b.node("Sigmoid", {"x"}, "gate2");
    b.node("Mul", {"gate2", "x"}, "silu");
    outs.push_back("silu");
    one("Tanh", "tanh");
    attr(one("LeakyRelu", "leaky"), "alpha", 0.1f);
    attr(one("Elu", "elu"), "alpha", 0.7f);
    one("Exp", "exp");
    one("Erf", "erf");
    one("Softplus", "softplus");
  }
  attr(b.node("Concat", outs, "y"), "axis", int64_t{1});
  b.output("y");
  return b.bytes();
}

inline NpyArray samples(const Graph& g, int64_t n, uint32_t seed) {
  Shape shape = g.tensor(g.inputs[0]).shape;
  shape[0] = n;
  std::mt19937 rng(seed);
  const std::vector<float> v = uniform(rng, static_cast<size_t>(num_elements(shape)), -1.0f, 1.0f);
  return make_npy_f32(shape, v);
}

inline Graph calibrated(const Graph& fp32, const char* bits) {
  CalibConfig cfg;
  parse_bits(bits, cfg);
  cfg.method = CalibMethod::MinMax;
  Graph g = quantize_fp32(fp32, samples(fp32, 16, 3), cfg).graph;
  g.source = fp32.source + " " + bits;
  return g;
}

// The FP32 models (batch 1) the calibration tests use: the zoo's float models, exporter forms, pointwise ops.
inline std::vector<Graph> fp32_models() {
  std::vector<Graph> v;
  for (const TestModel& m : test_models(1))
    if (!m.quantized) v.push_back(import_bytes(m.bytes, m.name));
  v.push_back(import_bytes(exporter_forms(1).bytes, "exporter_forms"));
  v.push_back(import_bytes(pointwise_model(false), "pointwise"));
  return v;
}

inline fs::path scratch(const std::string& sub) {
  fs::path d = fs::path(TPUSIM_BINARY_DIR) / "tests" / "onnx_export_work" / sub;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline int onnx_checker(const fs::path& file) {
  const std::string cmd =
      "/usr/bin/python3 -c \"import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), "
      "full_check=True)\" " +
      file.string() + " >" + file.string() + ".log 2>&1";
  return std::system(cmd.c_str());
}

}  // namespace export_test
