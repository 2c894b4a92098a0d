// The integer reference interpreter: runs an IntGraph (int_graph.h) untiled, op by op, with plain
// loops over int32 vectors. It is the golden the simulator must equal bit for bit, so it is written
// independently of the instruction semantics (isa/semantics*.cpp); it shares only the numerics of
// isa/numerics.h (requant, round_shift, rounding_div, saturation), which are the definition.
//
// The accumulator contract is the TIU's: products and the bias are summed exactly (int64), the
// sum is saturated to int32 once per output element (each saturation counted as an overflow), then
// requantized. Eltwise saturates after each input rescale and after the combine (counted each).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/fp32_interp.h"
#include "compiler/int_graph.h"

namespace tpusim::compiler {

struct IntValue {
  Shape shape;
  DType dtype = DType::Int8;
  float scale = 1.0f;
  int32_t zero_point = 0;
  std::vector<int32_t> data;  // row-major, one value per element
};
using IntValues = std::map<std::string, IntValue>;

struct IntRun {
  IntValues values;                               // every tensor (inputs, op outputs, views) by name
  std::map<std::string, uint64_t> acc_overflows;  // int32 saturations, by op output (only ops with some)
};

// `inputs` has one value per IntGraph::inputs entry (by integer name) with the tensor's element
// count and values inside its type. Throws Error naming a missing or malformed input.
IntRun run_int(const IntGraph& g, const IntValues& inputs);
// One op whose inputs are in `values` (views are added on demand); adds its output and returns
// the accumulator overflows. Lets a test run a layer on another interpreter's inputs.
uint64_t run_int_op(const IntGraph& g, const IOp& op, IntValues& values);

// The host side of `tpusim run`: ONNX QuantizeLinear of the float model inputs (keyed by
// IntGraph::float_inputs names; integer tensors pass through) into the integer inputs.
IntValues quantize_inputs(const IntGraph& g, const TensorMap& float_inputs);
// DequantizeLinear: (q - zero_point) * scale per element, in float.
std::vector<float> dequantize(const IntValue& v);

// The per-layer dump: each tensor's integers under its name (int4/uint4 as int8/uint8) and its
// dequantized floats under "<name>_dq", as Tensors for save_tensors_npz (tensor_io.h).
TensorMap int_dump_tensors(const IntRun& run);
void save_int_dump(const IntRun& run, const std::string& path);

}  // namespace tpusim::compiler
