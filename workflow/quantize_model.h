// A model ready for integer lowering: a QDQ model as it is, an FP32 model calibrated on data into
// the QDQ form (compiler/calibrate.h). Shared by `tpusim compile`, `tpusim infer` and friends.
#pragma once
#include <string>

#include "compiler/calibrate.h"
#include "compiler/graph.h"

namespace tpusim::workflow {

struct CalibOptions {
  std::string calib;           // .npy of calibration inputs; empty = none given
  std::string method = "mse";  // minmax, ema, percentile, mse or kl (docs/calibration.md)
  std::string bits = "w8a8";
  int64_t limit = 0;
};

bool is_qdq(const compiler::Graph& g);
// The calibration configuration the options ask for (Error for a bad --bits or --calib-method).
compiler::CalibConfig calib_config(const CalibOptions& o);
// `g` (imported from `model`) as a QDQ graph: calibrated when FP32 (Error naming the model when no
// calibration data is given), refused when QDQ and calibration data is given. Taken by value: a
// caller that no longer needs the FP32 graph moves it in, and its weights are not held twice.
compiler::Graph quantized_graph(compiler::Graph g, const std::string& model, const CalibOptions& o);

}  // namespace tpusim::workflow
