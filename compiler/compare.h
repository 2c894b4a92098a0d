// Per-layer FP32-vs-quantized comparison (docs/compare.md), as TPU-MLIR's npz compare: every
// integer tensor of a lowered graph that quantizes a float tensor is dequantized and measured
// against that float tensor from an FP32 run. No simulator here: `tpusim compare --arch` reads
// the simulated tensors itself and passes them to compare_layers.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/npy.h"
#include "compiler/attribution.h"
#include "compiler/calibrate.h"
#include "compiler/fp32_interp.h"
#include "compiler/int_graph.h"
#include "compiler/int_interp.h"

namespace tpusim::compiler {

// One layer's error, computed in double over all its elements (every image of the batch):
//   cosine       = sum(x q) / sqrt(sum x^2 * sum q^2)   (1 when both are all zero, 0 when one is)
//   sqnr_db      = 10 log10(sum x^2 / sum (x - q)^2)    (+inf when x == q everywhere)
//   max_abs_err  = max |x - q|,  fp32_max_abs = max |x|
// with x the FP32 values and q the dequantized integers.
struct LayerError {
  std::string name;        // the integer tensor (the op's output, or the model input)
  std::string float_name;  // the FP32 tensor it is compared with
  std::string op;          // kind_name() of the op ("conv2d", "matmul", ...), or "input"
  Shape shape;
  double cosine = 0, sqnr_db = 0, max_abs_err = 0, fp32_max_abs = 0;
  std::optional<bool> sim_equals_ref;  // set by `tpusim compare --arch`: simulator == run_int, bit for bit
  std::optional<Attribution> attribution;  // set by attribute_compare (`tpusim compare --attribute`)
  std::string attribution_skipped;         // why an op was not attributed
};

// Throws Error when the sizes differ.
LayerError layer_error(std::span<const float> fp32, std::span<const float> quantized);

struct CompareResult {
  std::vector<LayerError> layers;    // the model inputs, then each op's output in op order
  std::vector<std::string> skipped;  // integer tensors whose float tensor is not in the FP32 run
};

// Every input and op output of `g` whose ITensor::float_name (for an input, its
// IntGraph::float_inputs entry; for a graph output also its float_outputs entry) is a float tensor
// of `fp32`, measured with `quantized` (dequantize()). Throws Error when a matched float tensor
// has another element count, or a quantized value is missing.
CompareResult compare_layers(const IntGraph& g, const IntValues& quantized, const TensorMap& fp32);

// What compare_model needs: a QDQ model (or an FP32 one with `calib`) and float32 images.
struct CompareInputs {
  std::string model;
  // The FP32 side: another model matched by tensor names (e.g. the FP32 export of a QAT run);
  // empty: `model` with its activation QDQ pairs stripped (strip_qdq.h) or, with `calib`, the FP32
  // model itself (BatchNormalization folded).
  std::string fp32_model;
  NpyArray input;  // float32 [N, C, H, W] (or one image without N): N images, one run at batch N,
                   // or N / b runs when the model's batch is fixed at b
  std::string input_source = "input";  // names `input` in errors (the .npy path)
  std::optional<NpyArray> calib;       // quantize an FP32 `model` on these samples first
  CalibConfig calib_config;
};

// The two runs behind a comparison, for callers that also simulate (`tpusim compare --arch`).
struct CompareRun {
  IntGraph graph;         // lowered at batch N, or at the model's fixed batch N / runs
  IntRun ref;             // run_int on the quantized images (the runs stacked: batch_rows.h)
  TensorMap fp32;         // every tensor of the FP32 side (stacked likewise)
  Graph fp32_graph;       // the FP32 side's graph (at the graph's batch), for attribute_compare
  std::string fp32_side;  // what the FP32 side is, for headers: "fp32.onnx", "m.onnx, QDQ stripped", ...
  int64_t images = 0;
  int64_t runs = 1;  // graph executions: images / the graph's batch
};
// Imports (batch = N), quantizes (calib) and lowers, runs run_int and run_fp32. Errors name the
// file: a bad model, a non-float32 input, an input shape that does not fit the model's input.
CompareRun run_compare(const CompareInputs& in);

// run_compare + compare_layers on the integer reference. Throws Error when no layer matches.
CompareResult compare_model(const CompareInputs& in);
// The "no layer matched" check on its own (naming `fp32_side`).
void require_matches(const CompareResult& r, const std::string& fp32_side);

// A fixed-width table under `title` (one line), then the skipped tensors, if any.
std::string compare_table(const CompareResult& r, const std::string& title);
// layer,op,shape,cosine,sqnr_db,max_abs_err,fp32_max_abs[,sim_equals_ref],fp32_tensor
// (shape as 1x8x16x16; SQNR "inf" when exact; sim_equals_ref only when some layer has it).
std::string compare_csv(const CompareResult& r);
nlohmann::json compare_json(const CompareResult& r);

// Error attribution (attribution.h) of every op layer of `r`, on the integer reference's values.
void attribute_compare(CompareResult& r, const CompareRun& run);
// The attribution table `tpusim compare --attribute` prints below the comparison, and its CSV
// columns (after fp32_tensor): attr_<part> shares of the error energy, attr_total_mse, attr_dominant.
std::string attribution_table(const CompareResult& r);
std::string attribution_csv_header();
std::string attribution_csv_fields(const LayerError& e);

}  // namespace tpusim::compiler
