// Post-training calibration of an FP32 model (docs/compiler.md, "Calibration (FP32 models)"): run
// the FP32 interpreter over calibration data, observe every activation the integer graph will
// hold, choose ranges (quant/calibration.h) and rewrite the float graph into the QDQ form lower_qdq
// accepts: Q -> DQ after each quantized activation, weights as DequantizeLinear of int8/int4
// constants (per output channel, symmetric), biases left float.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/npy.h"
#include "compiler/graph.h"
#include "quant/calibration.h"

namespace tpusim::compiler {

struct CalibConfig {
  CalibMethod method = CalibMethod::Mse;  // the best on trained models (docs/calibration.md)
  int weight_bits = 8;                    // 4 or 8 (int4 / int8 narrow range)
  int act_bits = 8;                       // 4 or 8 (uint/int of that width)
  int64_t limit = 0;                      // use at most this many samples (0 = all)
  double percentile = 99.99;
  std::string calib_source = "calibration data";  // names the data in errors
};

// "w8a8", "w4a4", "w4a8", "w8a4" -> (weight bits, act bits) in `c`. Throws Error for another
// form, or for a width ONNX QDQ types cannot express (only 4 and 8 bits: int4/uint4/int8/uint8).
void parse_bits(std::string_view spec, CalibConfig& c);

struct CalibResult {
  Graph graph;                                // QDQ float graph, ready for lower_qdq
  std::map<std::string, QuantParams> params;  // activation tensor -> chosen parameters
  int64_t samples = 0;
};

// `fp32` is an imported FP32 graph with one float input (BatchNormalization is folded here).
// `calib` is float32 with shape [N, <input shape without batch>] or exactly the input's shape
// without batch (one sample); samples are run in groups of the graph's batch size. Taken by value
// (move a graph you no longer need): each float weight is freed once its integers exist.
CalibResult quantize_fp32(Graph fp32, const NpyArray& calib, const CalibConfig& c);

}  // namespace tpusim::compiler
