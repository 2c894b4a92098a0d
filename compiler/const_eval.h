// The constant evaluator of canonicalization: computes a node whose inputs are all constants (or,
// for Shape, whose input has a static shape) so the node can be replaced by its value. It covers
// what exporters emit around reshapes, flattens and channel shuffles: Shape, Gather, Unsqueeze,
// Squeeze, Cast, ConstantOfShape, Range, Slice, Transpose, Concat, Reshape, Flatten, Identity and
// the arithmetic Add, Sub, Mul, Div, Neg, Sqrt, Pow, Equal, Where and Expand (numpy broadcasting;
// const_eval_broadcast.cpp), on float32 and integer data (a boolean as int64 0/1).
#pragma once
#include "compiler/graph.h"

namespace tpusim::compiler {

// Whether const_eval computes this node now (its inputs are constants, or Shape of a known shape).
bool can_const_eval(const Graph& g, const Node& n);
// The value of the node's first output (named after it, is_const set). Fails naming the node for
// attributes or values it cannot evaluate.
Tensor const_eval(const Graph& g, const Node& n);

}  // namespace tpusim::compiler
