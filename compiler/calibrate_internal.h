// Internals of calibration shared by calibrate.cpp and calibrate_transformer.cpp.
#pragma once
#include <set>
#include <string>

#include "compiler/calibrate.h"
#include "compiler/graph.h"

namespace tpusim::compiler {

bool is_matmul_like(Op op);  // Conv, Gemm, MatMul
ElemType elem_of(const QuantSpec& s);
Node qdq_node(Op op, const std::string& in, const std::string& out, QuantAttrs a);
// Quant points read as the second operand of a MatMul of two activations (attention's K^T and V),
// followed back through views and copies: quantized symmetric and signed, so the MAC array takes
// them as weights (zero point 0).
std::set<std::string> symmetric_points(const Graph& g);
// Rewrites every constant a Concat or an Add/Mul reads as an activation (not a matmul's bias, not
// per channel on a 4-D tensor) into DequantizeLinear(integer constant), per tensor over the
// constant's own range (nothing to clip: it is known exactly); records its parameters in r.
void quantize_constant_activations(Graph& g, int bits, CalibResult& r);

}  // namespace tpusim::compiler
