// The pointwise functions of one tensor (Sigmoid, HardSigmoid, HardSwish, Tanh, LeakyRelu, Elu, Exp,
// Erf, Softplus, Gelu, and Silu fused from Mul(x, Sigmoid(x))), defined once: the FP32 interpreter applies
// them per element and quantized lowering tabulates them (the lut instruction), so FP32, the integer
// reference and the simulator compute the same function.
#pragma once
#include "compiler/ops.h"

namespace tpusim::compiler {

bool is_pointwise(Op op);
// f(x) in double precision (rounded to float by the callers).
double pointwise(Op op, const PointwiseAttrs& a, double x);

}  // namespace tpusim::compiler
