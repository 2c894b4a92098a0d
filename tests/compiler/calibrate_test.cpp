// Calibration of FP32 zoo models (compiler/calibrate.h): every method at w8a8/w4a4/w4a8/w8a4, lowered,
// compiled for edge and default and simulated bit for bit against run_int; the dequantized integer
// outputs against the FP32 interpreter's (cosine, top-1); errors. TPUSIM_CALIB_STATS=1 prints
// the fidelity table of docs/compiler.md.
#include "compiler/calibrate.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "tests/compiler/backend_helpers.h"
#include "tests/support/onnx_zoo.h"

using namespace betest;
using namespace tpusim::testing;

namespace {

Graph imported(const TestModel& m) {
  const std::string& b = m.bytes;
  return import_onnx_bytes(std::span(reinterpret_cast<const uint8_t*>(b.data()), b.size()), m.name + ".onnx",
                           ImportOptions{1});
}

// n samples of the model's input (batch 1), uniform in [-1, 1].
NpyArray samples(const TestModel& m, int64_t n, uint32_t seed) {
  std::vector<int64_t> shape = m.input_shape;
  shape[0] = n;
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  std::mt19937 rng(seed);
  const std::vector<float> v = uniform(rng, static_cast<size_t>(total), -1.0f, 1.0f);
  return make_npy_f32(shape, v);
}

struct Fidelity {
  double cosine = 0;
  int top1 = 0, n = 0;
};

// Held-out inputs through the FP32 graph and the lowered integer graph (host quantization, run_int,
// dequantized outputs).
Fidelity fidelity(const Graph& fp32, const IntGraph& ig, const NpyArray& x) {
  Fidelity f;
  double dot = 0, na = 0, nb = 0;
  const Tensor& in = fp32.tensor(fp32.inputs[0]);
  const int64_t per = in.elements();
  for (int64_t s = 0; s < x.shape[0]; ++s) {
    std::vector<float> v(static_cast<size_t>(per));
    std::memcpy(v.data(), x.data.data() + s * per * 4, v.size() * 4);
    TensorMap inputs{{in.name, make_f32(in.name, in.shape, v)}};
    const std::vector<float> ref = run_fp32(fp32, inputs).at(fp32.outputs[0]).f32;
    const IntRun run = run_int(ig, quantize_inputs(ig, inputs));
    const std::vector<float> got = dequantize(run.values.at(ig.outputs[0]));
    REQUIRE(got.size() == ref.size());
    for (size_t i = 0; i < got.size(); ++i)
      dot += ref[i] * got[i], na += ref[i] * ref[i], nb += got[i] * got[i];
    f.top1 += std::max_element(ref.begin(), ref.end()) - ref.begin() ==
              std::max_element(got.begin(), got.end()) - got.begin();
    ++f.n;
  }
  f.cosine = dot / std::sqrt(na * nb);
  return f;
}

// The simulator on a held-out float input (host-quantized as `tpusim run` does): outputs == run_int.
void check_heldout_sim(const Graph& fp32, const IntGraph& ig, const NpyArray& x, const Arch& a) {
  const Tensor& in = fp32.tensor(fp32.inputs[0]);
  std::vector<float> v(static_cast<size_t>(in.elements()));
  std::memcpy(v.data(), x.data.data(), v.size() * 4);
  const IntValues q = quantize_inputs(ig, {{in.name, make_f32(in.name, in.shape, v)}});
  const Program p = compile_int_graph(ig, a);
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  for (size_t k = 0; k < p.inputs.size(); ++k) sim::write_tensor(mem, p.inputs[k], q.at(ig.inputs[k]).data);
  sim::RunOptions opt;
  opt.functional = true;
  sim::run(p, a, mem, opt);
  const IntRun golden = run_int(ig, q);
  for (size_t k = 0; k < p.outputs.size(); ++k)
    REQUIRE(sim::read_tensor(mem, p.outputs[k]) == golden.values.at(ig.outputs[k]).data);
}

}  // namespace

TEST_CASE("calibrate: FP32 zoo, every method and bit width: bit-exact and close to FP32", "[calibrate]") {
  const bool stats = std::getenv("TPUSIM_CALIB_STATS") != nullptr;
  for (const char* model : {"conv_bn_relu_pool", "residual", "mlp"}) {
    const TestModel m = test_model(model, 1);
    const Graph g = imported(m);
    const NpyArray calib = samples(m, 32, 7), held = samples(m, 64, 8);
    for (const char* bits : {"w8a8", "w4a4", "w4a8", "w8a4"})
      for (const char* method : {"minmax", "percentile", "kl", "mse"}) {
        INFO(model << " " << bits << " " << method);
        CalibConfig cfg;
        parse_bits(bits, cfg);
        cfg.method = *calib_method_from_name(method);
        const CalibResult r = quantize_fp32(g, calib, cfg);
        CHECK(r.samples == 32);
        const IntGraph ig = lower_qdq(r.graph);
        for (const char* preset : {"edge", "default", "server"}) {
          check_bitexact(ig, arch_preset(preset), false, 21);
          check_heldout_sim(g, ig, held, arch_preset(preset));
        }
        const Fidelity f = fidelity(g, ig, held);
        if (stats)
          std::printf("%-18s %s %-10s cosine %.4f top-1 %d/%d\n", model, bits, method, f.cosine, f.top1, f.n);
        // Below 8 bits: 16 levels per tensor, errors compound layer after layer (docs/compiler.md).
        CHECK(f.cosine >= (cfg.act_bits == 8 && cfg.weight_bits == 8 ? 0.99 : 0.97));
      }
  }
}

TEST_CASE("calibrate: outliers give minmax and kl different scales", "[calibrate]") {
  const TestModel m = test_model("mlp", 1);
  const Graph g = imported(m);
  NpyArray calib = samples(m, 512, 9);  // 32768 values: the full 4096-bin histogram
  const float outliers[2] = {40.0f, -40.0f};
  std::memcpy(calib.data.data() + 4 * 100, &outliers[0], 4);
  std::memcpy(calib.data.data() + 4 * 1000, &outliers[1], 4);
  CalibConfig cfg;
  cfg.method = CalibMethod::MinMax;
  const QuantParams mm = quantize_fp32(g, calib, cfg).params.at("x");
  cfg.method = CalibMethod::Kl;
  const QuantParams kl = quantize_fp32(g, calib, cfg).params.at("x");
  if (std::getenv("TPUSIM_CALIB_STATS"))
    std::printf("outliers: x scale minmax %g, kl %g\n", mm.scale, kl.scale);
  CHECK(mm.scale == Approx(80.0 / 255).epsilon(0.01));
  CHECK(kl.scale < mm.scale / 4);
}

TEST_CASE("calibrate: errors", "[calibrate]") {
  CalibConfig cfg;
  CHECK_THROWS_WITH(parse_bits("w2a8", cfg),
                    Catch::Contains("2-bit weights cannot be expressed with ONNX QDQ types"));
  CHECK_THROWS_WITH(parse_bits("w8a3", cfg), Catch::Contains("3-bit activations cannot be expressed"));
  CHECK_THROWS_WITH(parse_bits("int8", cfg), Catch::Contains("expected wNaM"));
  const TestModel m = test_model("mlp", 1);
  const Graph g = imported(m);
  cfg.calib_source = "c.npy";
  const std::vector<int32_t> ints(64, 0);
  CHECK_THROWS_WITH(quantize_fp32(g, make_npy_i32({1, 1, 8, 8}, ints, NpyType::I32), cfg),
                    "c.npy: calibration data is int32, expected float32 or float64");
  CHECK_THROWS_WITH(
      quantize_fp32(g, make_npy_f32({2, 8, 8}, std::vector<float>(128)), cfg),
      "c.npy: calibration data has shape [2, 8, 8], expected [N, 1, 8, 8] for input 'x' [1, 1, 8, 8]");
  cfg.weight_bits = 2;
  CHECK_THROWS_WITH(quantize_fp32(g, samples(m, 2, 1), cfg),
                    Catch::Contains("2-bit quantization cannot be expressed"));
}
