// The per-layer lowering report: for every integer op, its quantization parameters and how well
// the integer multipliers represent the float scales (error source 4 in docs/design.md,
// "Quantization error": the hardware replaces each scale by M0 * 2^-shift). As a struct, as JSON
// and as a text table.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compiler/int_graph.h"

namespace tpusim::compiler {

struct TensorQuant {
  std::string name;
  std::string dtype;  // "int8", "uint4", ...
  double scale = 0;
  int32_t zero_point = 0;
};

struct LayerReport {
  std::string op;    // the op's name (its anchor node in the float graph)
  std::string kind;  // "conv2d", "matmul", "pool.max", "pool.avg", "eltwise.add", "requant", "concat", ...
  std::vector<std::string> sources;  // float-graph nodes folded into it
  std::vector<TensorQuant> inputs;
  TensorQuant output;
  int weight_bits = 0;      // 8 or 4; 0 without weights
  int64_t multipliers = 0;  // (M0, shift) pairs of the requant tail: 1 = per tensor
  int32_t m0_min = 0, m0_max = 0;
  int shift_min = 0, shift_max = 0;
  std::vector<Multiplier> rescale;  // eltwise: the input rescales of a and b
  double max_rel_error = 0;         // over every (M0, shift) the op uses, rescales included
  int32_t clamp_lo = 0, clamp_hi = 0;
  int64_t bias_saturated = 0;  // bias values clipped to int32
};

std::vector<LayerReport> lowering_report(const IntGraph& g);
// {"source": ..., "layers": [{"op", "kind", "sources", "inputs": [{"name", "dtype", "scale",
// "zero_point"}], "output", "weight_bits", "multipliers", "m0": [min, max], "shift": [min, max],
// "rescale": [{"m0", "shift", "scale", "rel_error"}], "max_rel_error", "clamp": [lo, hi],
// "bias_saturated"}]}
nlohmann::json report_json(const IntGraph& g, const std::vector<LayerReport>& layers);
// One line per layer: op, kind, output type/scale/zero point, M0/shift ranges, error, clamps.
std::string format_report(const std::vector<LayerReport>& layers);

}  // namespace tpusim::compiler
