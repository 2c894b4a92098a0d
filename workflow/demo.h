// `tpusim demo`: the main job end to end (docs/demo.md). Train (or reuse) the FP32 model, quantize
// it by PTQ and QAT at W8A8 and W4A4, compile every variant, run the test set through the
// simulator and the integer reference, compare layers against FP32, and write
// OUT/report.{json,md} plus the plots of scripts/demo_plots.py.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tpusim::workflow {

struct DemoOptions {
  std::string out = "runs/demo";
  std::string model = "lenet5";
  std::string dataset = "fashion-mnist";
  std::string arch = "default";
  std::string from;  // an existing `tpusim train` folder instead of training
  int epochs = 5;    // FP32 training
  int qat8_epochs = 1, qat4_epochs = 2;
  int64_t train_limit = 0, test_limit = 0;  // 0 = the whole split
  int64_t compare_images = 100;             // test images of the per-layer comparison
  std::vector<std::string> variants;        // empty = all of demo_variant_names(model)
  bool plots = true;
  int threads = 0;  // 0 = every core
  bool progress = true;
};

// The CNNs: PTQ and QAT at W8A8 and W4A4; transformers: PTQ W8A8, QAT W8A8 and QAT W4A8.
const std::vector<std::string>& demo_variant_names(const std::string& model);
void run_demo(const DemoOptions& o);

}  // namespace tpusim::workflow
