// ONNX export (compiler/onnx_export.h), the saved files: every FP32 model and its calibrated QDQ
// forms pass onnx's checker (8-bit ones: Debian's onnx 1.12 knows opsets up to 17), and ONNX Runtime
// runs a saved calibrated model within one output quantization step of the FP32 interpreter.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>

#include "base/file_io.h"
#include "base/npz.h"
#include "compiler/fp32_interp.h"
#include "compiler/onnx_export.h"
#include "tests/compiler/onnx_export_helpers.h"

using namespace export_test;

TEST_CASE("onnx_export: saved files pass onnx.checker (full_check)", "[export][checker]") {
  const fs::path d = scratch("checker");
  std::vector<std::pair<std::string, Graph>> files;
  for (const Graph& fp32 : fp32_models()) {
    const std::string base = fp32.source;
    files.emplace_back(base + "_fp32.onnx", fp32);
    for (const char* bits : {"w8a8", "w4a8", "w4a4"})
      files.emplace_back(base + "_" + bits + ".onnx", calibrated(fp32, bits));
  }
  for (const auto& [name, g] : files) {
    INFO(name << ": " << (d / (name + ".log")).string());
    save_onnx(g, (d / name).string());
    const int rc = onnx_checker(d / name);
    if (rc != 0) INFO(read_file_text((d / (name + ".log")).string()));
    CHECK(rc == 0);
  }
  // 4-bit grids are written in 8-bit containers at opset 13, so Debian's onnx 1.12 (opsets <= 17)
  // checks them too.
}

TEST_CASE("onnx_export: ONNX Runtime runs saved calibrated models within one output step of run_fp32",
          "[export][ort]") {
  for (const Graph& fp32 : fp32_models())
    for (const char* bits : {"w8a8", "w4a8", "w4a4"})
      for (const char* opt : {"disabled", "all"}) {
        const Graph q = calibrated(fp32, bits);
        const std::string tag = fp32.source + "_" + bits + "_" + opt;
        INFO(tag);
        const fs::path d = scratch(tag);
        save_onnx(q, (d / "model.onnx").string());
        const TensorMap in = random_inputs(q, 51);
        const std::string x = q.inputs[0];
        save_npy(to_npy(in.at(x)), (d / "x.npy").string());
        const std::string cmd = "node " + std::string(TPUSIM_SOURCE_DIR) +
                                "/tests/support/ort/run_ort.js --ort-dir " + std::string(TPUSIM_ORT_DIR) +
                                " --opt " + opt + " " + (d / "model.onnx").string() + " " +
                                (d / "out").string() + " " + x + "=" + (d / "x.npy").string() + " >" +
                                (d / "stdout.txt").string() + " 2>" + (d / "stderr.txt").string();
        if (std::system(cmd.c_str()) != 0)
          FAIL("ONNX Runtime (run_ort.js) failed: " << read_file_text((d / "stderr.txt").string()));
        const TensorMap ours = run_fp32(q, in);
        for (const std::string& o : q.outputs) {
          const Node* dq = q.producer(o);
          while (dq && (dq->op == Op::Reshape || dq->op == Op::Flatten)) dq = q.producer(dq->input(0));
          REQUIRE(dq);
          REQUIRE(dq->op == Op::DequantizeLinear);
          const float step = dq->attr<QuantAttrs>().scale[0];
          const NpyArray ref = load_npy((d / "out" / (sanitize_member_name(o) + ".npy")).string());
          const Tensor& mine = ours.at(o);
          REQUIRE(ref.shape == mine.shape);
          double worst = 0;
          for (uint64_t i = 0; i < ref.elements(); ++i) {
            const double diff = std::fabs(ref.at_f64(i) - mine.f32[i]);
            worst = std::max(worst, diff);
            REQUIRE(diff <= step * (1 + 1e-5));
          }
          WARN(tag << ": output '" << o << "' max diff " << worst << " (step " << step << ")");
        }
      }
}
