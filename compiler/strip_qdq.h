// The FP32 side of a QDQ model for per-layer comparisons (compiler/compare.h, docs/compare.md):
// the same graph with every activation QuantizeLinear -> DequantizeLinear pair removed, so each
// float op sees the unrounded float result of the op before it.
//
// Only pairs on non-constant tensors are removed. Weights (and int32 biases) stay as
// DequantizeLinear of their integer constants: the weight rounding error is then part of both
// sides and invisible to the comparison (compare against the FP32 export, --fp32, to see it).
#pragma once
#include "compiler/graph.h"

namespace tpusim::compiler {

// A pair is QuantizeLinear(t) -> DequantizeLinear with t not a constant: the DequantizeLinear's
// consumers read t instead; a graph output that was the DequantizeLinear's output becomes t (the
// float tensor the quantized output stands for). QuantizeLinear nodes left without consumers are
// dropped. Everything else (names, order, other nodes) is kept.
Graph strip_activation_qdq(const Graph& g);

}  // namespace tpusim::compiler
