// ONNX export (qat/onnx_export.h) against ONNX Runtime (tests/support/ort/run_ort.js) and ONNX's
// own checker: every export variant (FP32, W8A8, W4A8, W4A4, W2A2, mixed precision; every zoo model)
// passes onnx.checker with full checks (opset <= 17: Debian's onnx 1.12 knows no later opset), ONNX
// Runtime creates a session for it at every optimisation level, and its scores agree with tpusim's
// FP32 interpreter and integer reference. Needs the ort fixture (scripts/setup_ort.sh).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "base/file_io.h"
#include "base/npy.h"
#include "compiler/backend.h"
#include "compiler/fp32_interp.h"
#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "compiler/tensor_io.h"
#include "isa/program.h"
#include "qat/onnx_export.h"
#include "tests/qat/export_fixtures.h"
#include "tests/support/onnx_builders.h"

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

// onnx.checker.check_model(full_check=True) through Debian's python3-onnx; "" when it passes.
std::string onnx_check(const fs::path& model) {
  const fs::path log = model.parent_path() / "checker.txt";
  std::string cmd = TPUSIM_PYTHON;  // appended piece by piece: GCC 12 misreads the chained operator+
  cmd += " -c 'import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)' ";
  cmd += model.string();
  cmd += " >" + log.string() + " 2>&1";
  return std::system(cmd.c_str()) == 0 ? "" : read_file_text(log.string());
}

int64_t opset_of(const std::string& bytes) { return Model(bytes).proto.opset_import(0).version(); }

}  // namespace

// Tolerances: FP32, both sides sum in float32 in different orders (1e-5 relative, as in
// tests/compiler/fp32_vs_ort_test.cpp). QDQ within one output step: ORT's "disabled" level runs
// the graph as written (DequantizeLinear -> float op -> QuantizeLinear), which rounds at a .5 tie
// where the integer reference may pick the neighbour (export_interp_test.cpp); "all" is ORT's
// deployment form (QLinearConv and friends where the types allow, integer arithmetic with its own
// requant), compared with tpusim's integer reference.
TEST_CASE("export: every variant passes the ONNX checker, loads in ONNX Runtime and agrees",
          "[qat][export][ort]") {
  const int64_t batch = 4;
  std::vector<const Bits*> variants{nullptr};
  for (const Bits& b : kAllConfigs) variants.push_back(&b);
  for (const std::string& name : models::model_names()) {
    for (const Bits* b : variants) {
      if (unsupported(name, b)) continue;
      const std::string tag = name + "_" + (b ? b->name : "fp32");
      INFO(tag);
      const Case c = make_case(name, b, 6);
      const fs::path dir = scratch(tag);
      const std::string bytes = bytes_of(c);
      qat::export_onnx(c.m, (dir / "model.onnx").string());
      if (opset_of(bytes) <= 17) CHECK(onnx_check(dir / "model.onnx") == "");
      const TensorMap in = random_image(c.m, batch, 7);
      save_npy(to_npy(in.at("image")), (dir / "image.npy").string());
      const Graph g = import_onnx((dir / "model.onnx").string(), ImportOptions{batch});
      const TensorMap fp = run_fp32(g, in);
      const Tensor& y = fp.at("scores");
      std::vector<float> int_ref;
      if (b) {
        const IntGraph ig = lower_qdq(g);
        int_ref = dequantize(run_int(ig, quantize_inputs(ig, in)).values.at(ig.outputs[0]));
      }
      for (const char* opt : {"disabled", "all"}) {
        INFO("ORT optimisations " << opt);
        const std::vector<float> ort = run_ort(dir, opt);
        const std::vector<float>& ref = !b ? y.f32 : std::string(opt) == "all" ? int_ref : y.f32;
        REQUIRE(ort.size() == ref.size());
        const float step = b ? c.m.layers.back().out.scale : 0.0f;
        // A transformer's LayerNorm and softmax are integer algorithms in tpusim and float ops in
        // ORT's deployment form: there the outputs are compared by direction.
        if (b && c.m.spec.transformer() && std::string(opt) == "all") {
          double ab = 0, aa = 0, bb = 0;
          for (size_t i = 0; i < ort.size(); ++i)
            ab += double(ort[i]) * ref[i], aa += double(ort[i]) * ort[i], bb += double(ref[i]) * ref[i];
          WARN(tag << " (all): cosine to the integer reference " << ab / std::sqrt(aa * bb));
          if (b->a == 8) CHECK(ab / std::sqrt(aa * bb) >= 0.95);  // a4: see export_transformer_test.cpp
          continue;
        }
        int64_t off = 0;
        for (size_t i = 0; i < ort.size(); ++i) {
          const float diff = std::fabs(ort[i] - ref[i]);
          off += diff > 0;
          // In a transformer one code flipped at a tie early in an image reaches all its scores
          // through the attention, by a few steps (measured: 4, on one image of four at w4a8).
          if (b)
            CHECK(diff <= step * (c.m.spec.transformer() ? 8 : 1) * (1 + 1e-5f));
          else
            CHECK(diff <= 1e-5f * (1 + std::fabs(ort[i])));
        }
        if (b && c.m.spec.transformer()) CHECK(off * 2 <= static_cast<int64_t>(ort.size()));
        if (b)
          WARN(tag << " (" << opt << "): " << off << " of " << ort.size() << " scores a step from "
                   << (std::string(opt) == "all" ? "the integer reference" : "the FP32 interpreter"));
      }
    }
  }
}

// The 8-bit containers of sub-8-bit activations are an export form only: the compiler reads them
// back into 4-bit tensors (narrow_storage), and the program is the one the int4/uint4-typed export
// gives, instruction for instruction.
TEST_CASE("export: 8-bit containers of 4-bit activations compile to the 4-bit program", "[qat][export]") {
  const Arch& arch = arch_preset("default");
  for (const std::string& name : models::model_names()) {
    for (const Bits& b : kAllConfigs) {
      if (unsupported(name, &b)) continue;
      if (b.a == 8) continue;
      INFO(name << " " << b.name);
      const Case c = make_case(name, &b, 4);
      const IntGraph wide = lower_qdq(testing::import_model(qat::export_onnx_bytes(c.m), 1));
      const IntGraph typed = lower_qdq(testing::import_model(qat::export_onnx_bytes(c.m, {true}), 1));
      REQUIRE(wide.ops.size() == typed.ops.size());
      int four = 0;
      for (const auto& [tn, t] : typed.tensors) {
        INFO("tensor " << tn);
        REQUIRE(wide.tensors.count(tn));
        CHECK(wide.tensors.at(tn).dtype == t.dtype);
        four += is_4bit(t.dtype);
      }
      CHECK(four > 0);
      CHECK(encode_program(compile_int_graph(wide, arch)) == encode_program(compile_int_graph(typed, arch)));
    }
  }
}
