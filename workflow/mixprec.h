// `tpusim mixprec` (docs/qat.md, "Mixed precision"): per-layer bit widths for a trained FP32
// model, chosen against the simulated cycles of the target architecture. Sensitivity of each layer
// and a greedy search (workflow/mixprec_search.h) on a search split of held-out images, every
// point exported by PTQ, measured through the integer reference and simulated; then the fastest
// point within --max-drop of the most precise candidate, and the uniform points, measured again on
// a disjoint report split. Writes OUT/qtable.yaml, pareto.csv, pareto.png, report.json and the
// chosen model.onnx (QDQ).
#pragma once
#include <cstdint>
#include <string>

namespace tpusim::workflow {

struct MixprecOptions {
  std::string from;  // a `tpusim train` folder
  std::string out;
  std::string arch = "default";
  std::string candidates = "w8a8,w4a8,w4a4";
  double max_drop = 0.5;                  // accuracy points below the most precise uniform point
  std::string dataset = "fashion-mnist";  // its test split is held out from training
  int64_t search_images = 500;            // the last N test images: sensitivity and search
  int64_t report_images = 1000;           // the first N test images: the reported accuracies
  std::string calib = "mse";              // PTQ calibrator, as `tpusim ptq`
  int64_t calib_images = 2048;            // the first N training images, as `tpusim ptq`
  int jobs = 0;                           // integer-reference and libtorch threads (0 = every CPU)
  bool plots = true;
  bool progress = true;
};

void run_mixprec(const MixprecOptions& o);

}  // namespace tpusim::workflow
