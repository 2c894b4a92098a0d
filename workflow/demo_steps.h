// The steps of `tpusim demo` (workflow/demo.h), each usable on its own: cached QAT-toolchain jobs,
// and the accelerator-side evaluation of one quantized variant.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "isa/arch.h"
#include "workflow/demo.h"

namespace tpusim::workflow {

struct VariantSpec {
  std::string name, label;
  std::string kind;    // "ptq" or "qat"
  std::string bits;    // "w8a8", "w4a4"
  std::string method;  // PTQ calibrator or QAT algorithm
  int epochs = 0;      // QAT only
};
const VariantSpec& variant_spec(const std::string& name);

// OUT/fp32 (trained here, reused when its options are unchanged) or o.from. Returns the folder.
std::string demo_fp32(const DemoOptions& o);
// OUT/<variant>: PTQ or QAT from `fp32_dir`, reused when the FP32 model and options are unchanged.
// Returns its report.json.
nlohmann::json demo_quantize(const DemoOptions& o, const VariantSpec& v, const std::string& fp32_dir);
// Compiles OUT/<v>/model.onnx for `arch`, runs the test images through the simulator (timed, a
// trace of the first) and the integer reference, and compares layers with the FP32 model. Returns
// the variant's entry of report.json (accuracy without fp32/fake_quant, sim_vs_int_ref, perf,
// layers, trace).
nlohmann::json demo_accelerate(const DemoOptions& o, const VariantSpec& v, const std::string& fp32_dir,
                               const Arch& arch);

// report.json -> report.md.
std::string demo_markdown(const nlohmann::json& report);

}  // namespace tpusim::workflow
