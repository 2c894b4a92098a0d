// `tpusim infer`: a model run end to end on NumPy inputs by one of three engines, every graph
// output written by its name (TPU-MLIR's model_runner, for tpusim):
//   fp32  the FP32 interpreter on the graph as it is (a QDQ model computes its fake-quant in float,
//         as ONNX Runtime does)
//   int   the integer reference interpreter on the lowered graph (FP32 models calibrated first)
//   sim   the compiled program on the simulator (timed), for an architecture
// Inputs: .npy files (positional, or NAME=PATH) or one .npz whose members are the input names.
// Float inputs of a quantized model are quantized as ONNX QuantizeLinear; integer inputs are taken
// as they are. A leading dimension B runs B / N times a model whose batch N is fixed (torch.onnx's
// default of 1), outputs stacked.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "compiler/tensor.h"
#include "workflow/quantize_model.h"

namespace tpusim::workflow {

struct InferOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string engine = "fp32";
  std::string arch = "default";
  CalibOptions calib;
};

struct InferResult {
  std::map<std::string, compiler::Tensor> outputs;  // by graph output name
  int64_t runs = 0;                                 // model runs (B / N)
  uint64_t cycles = 0;                              // sim: simulated cycles, summed over runs
};

InferResult infer(const InferOptions& o);

}  // namespace tpusim::workflow
