// ONNX export (qat/onnx_export.h) against ONNX Runtime (tests/support/ort/run_ort.js): ORT loads
// every QDQ and FP32 export and its scores agree with tpusim's FP32 interpreter. Needs the ort
// fixture (scripts/setup_ort.sh), as test_compiler_ort does.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "base/file_io.h"
#include "base/npy.h"
#include "compiler/fp32_interp.h"
#include "compiler/onnx_import.h"
#include "compiler/tensor_io.h"
#include "qat/onnx_export.h"
#include "tests/qat/export_fixtures.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace export_test;
namespace fs = std::filesystem;

namespace {

// ONNX Runtime's "scores" for the model in dir/model.onnx on dir/image.npy, with graph
// optimisations `opt` ("disabled": the QDQ graph as written; "all": ORT's fused integer kernels).
std::vector<float> run_ort(const fs::path& dir, const std::string& opt) {
  const std::string cmd = "node " + std::string(TPUSIM_SOURCE_DIR) +
                          "/tests/support/ort/run_ort.js --ort-dir " + std::string(TPUSIM_ORT_DIR) +
                          " --opt " + opt + " " + (dir / "model.onnx").string() + " " +
                          (dir / "out").string() + " image=" + (dir / "image.npy").string() + " >" +
                          (dir / "stdout.txt").string() + " 2>" + (dir / "stderr.txt").string();
  if (std::system(cmd.c_str()) != 0)
    FAIL("ONNX Runtime (run_ort.js) failed: " << read_file_text((dir / "stderr.txt").string())
                                              << "(install it with scripts/setup_ort.sh " << TPUSIM_ORT_DIR
                                              << ")");
  const NpyArray a = load_npy((dir / "out" / "scores.npy").string());
  std::vector<float> v;
  for (uint64_t i = 0; i < a.elements(); ++i) v.push_back(static_cast<float>(a.at_f64(i)));
  return v;
}

}  // namespace

// Tolerances: FP32, both sides sum in float32 in different orders (1e-5 relative, as in
// tests/compiler/fp32_vs_ort_test.cpp). QDQ, within one output step for the .5-tie reason of
// export_interp_test.cpp. The int8 exports run a second time with ORT's optimisations on
// (QLinearConv and friends, integer arithmetic with its own requant), as deployed; int4 is left at
// "disabled" (ORT 1.30's optimiser rejects its own rewrite of a MaxPool on uint4, see
// tests/compiler/fp32_vs_ort_test.cpp).
TEST_CASE("export: ONNX Runtime loads the QDQ and FP32 exports and agrees with the FP32 interpreter",
          "[qat][export][ort]") {
  const int64_t batch = 4;
  for (const std::string& name : models::model_names()) {
    for (const Bits* b : {static_cast<const Bits*>(nullptr), &kConfigs[0], &kConfigs[1], &kConfigs[2]}) {
      const std::string tag = name + "_" + (b ? b->name : "fp32");
      INFO(tag);
      const Case c = make_case(name, b, 6);
      const fs::path dir = scratch(tag);
      qat::export_onnx(c.m, (dir / "model.onnx").string());
      const TensorMap in = random_image(c.m, batch, 7);
      save_npy(to_npy(in.at("image")), (dir / "image.npy").string());
      const Graph g = import_onnx((dir / "model.onnx").string(), ImportOptions{batch});
      const TensorMap fp = run_fp32(g, in);
      const Tensor& y = fp.at("scores");
      for (const char* opt : {"disabled", "all"}) {
        if (std::string(opt) == "all" && !(b && b->w == 8)) continue;
        INFO("ORT optimisations " << opt);
        const std::vector<float> ort = run_ort(dir, opt);
        REQUIRE(ort.size() == y.f32.size());
        const float step = b ? c.m.layers.back().out.scale : 0.0f;
        int64_t off = 0;
        for (size_t i = 0; i < ort.size(); ++i) {
          const float diff = std::fabs(ort[i] - y.f32[i]);
          off += diff > 0;
          if (b)
            CHECK(diff <= step * (1 + 1e-5f));
          else
            CHECK(diff <= 1e-5f * (1 + std::fabs(ort[i])));
        }
        if (b)
          WARN(tag << " (" << opt << "): " << off << " of " << ort.size() << " scores a step from ORT's");
      }
    }
  }
}
