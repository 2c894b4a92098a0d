// Error attribution (docs/compare.md, "Attribution"): each integer op emulated over real values
// with every source of quantization error switchable on its own, and the per-layer split of the
// FP32-vs-quantized error energy into those sources by exact ablation.
//
// The emulation of one op takes real input values and a set of switched-on sources:
//   inputs   each input rounded (ONNX QuantizeLinear rounding, half to even) and/or clipped to
//            its grid's range (input_rounding, input_clipping);
//   weights  rounded to their per-channel grid, clipped to the weight type's range, moved by
//            the integer steps the quantized model's weights differ from the rounded FP32 ones
//            (weight_update: QAT fine-tuning); all three give the integer graph's own weights; the
//            bias at the accumulator scale (bias_rounding);
//   output   the accumulator rounded to the output grid (requant, half up as the TIU), the float
//            scale replaced by M0 * 2^-shift (multiplier), the output clipped to its type's range
//            (output_clipping).
// With every operand source on (and requant) the accumulator is the integer op itself (int32,
// int_kernels.h); otherwise it is the FP32 interpreter's own nodes (run_fp32) on the operands, so
// every source off gives the FP32 run's values bit for bit and every source on the integer
// reference's.
#pragma once
#include <array>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compiler/fp32_interp.h"
#include "compiler/graph.h"
#include "compiler/int_graph.h"
#include "compiler/int_interp.h"

namespace tpusim::compiler {

enum class Source {
  WeightRounding,
  WeightClipping,
  WeightUpdate,
  BiasRounding,
  InputRounding,
  InputClipping,
  Requant,
  Multiplier,
  OutputClipping
};
constexpr size_t kSources = 9;
const char* source_key(Source s);  // "weight_rounding", ..., the JSON keys

struct Sources {
  std::array<bool, kSources> on{};
  bool operator[](Source s) const { return on[static_cast<size_t>(s)]; }
  static Sources none() { return {}; }
  static Sources all();
  static Sources only(Source s);
};

// One op of `g` over real values. Throws Error naming the op when it cannot be emulated: an input
// or output without an FP32 tensor in `fp32`, or FP32 nodes between them that do not depend only on
// the op's inputs and constants.
class LayerEmulation {
 public:
  LayerEmulation(const IntGraph& g, const IOp& op, const Graph& fp32);
  ~LayerEmulation();
  // The FP32 tensors of the op's inputs (one per op input) and of its output.
  const std::vector<std::string>& float_inputs() const;
  const std::string& float_output() const;
  // `inputs`: real values, one vector per op input, each the element count of the FP32 tensor
  // (one run of the graph). Returns the output's real values.
  std::vector<float> run(const std::vector<std::vector<float>>& inputs, const Sources& s) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One layer's error energies, sums of squared differences from the FP32 output over every
// element: `total` with the quantized model's values, `alone[s]` with source s alone on and the
// FP32 inputs, `local` with every source on and the FP32 inputs.
struct Attribution {
  double total = 0, local = 0;
  std::array<double, kSources> alone{};
  int64_t elements = 0;
  double fp32_deviation = 0;   // max |every source off - FP32|: 0 when the emulation is exact
  double interaction() const;  // local - sum of alone
  double upstream() const { return total - local; }
  // Shares of `total` (0 when total is 0): the nine sources, interaction, upstream (they sum to
  // 1), and the sums rounding, clipping, activation_rounding, activation_clipping; `dominant`
  // names the largest of the eleven; `error_energy` holds the energies as mean squares.
  nlohmann::json to_json() const;
  std::string dominant() const;
};

// Every op output of `g` with an FP32 tensor, attributed; `quantized` and `fp32` hold `runs`
// runs stacked (batch_rows.h). Ops that cannot be emulated are left out, with the reason in
// `skipped` (output name -> reason) when given.
std::map<std::string, Attribution> attribute_layers(const IntGraph& g, const Graph& fp32_graph,
                                                    const TensorMap& fp32, const IntValues& quantized,
                                                    int64_t runs,
                                                    std::map<std::string, std::string>* skipped = nullptr);

}  // namespace tpusim::compiler
