// Static shape and element-type inference over a topologically sorted graph. Fills every node
// output's Tensor::shape/type, normalises axes (Flatten, Concat, QDQ) and Conv kernel sizes, and
// checks consistency: errors name the node, its op and the tensors that disagree.
#pragma once
#include "compiler/graph.h"

namespace tpusim::compiler {

void infer_shapes(Graph& g);
// One node, its inputs' shapes known (canonicalization infers as it walks).
void infer_node(Graph& g, Node& n);

// Softmax and LayerNormalization (shape_infer_norm.cpp).
void infer_softmax(Graph& g, Node& n);
void infer_layer_norm(Graph& g, Node& n);

// Numpy-style (multidirectional) broadcast of two shapes; nullopt when incompatible.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b);
// Whether a constant of shape c, broadcast to y, is one value per channel of a 4-D activation (or
// a scalar): what lowering folds into a per-channel affine op rather than an eltwise.
bool channel_operand(const Shape& c, const Shape& y);
// Row-major element strides of a shape.
std::vector<int64_t> strides_of(const Shape& s);
// The element of a tensor of shape s that element i of its broadcast to y (strides ys) reads.
size_t broadcast_index(const Shape& s, const Shape& y, const std::vector<int64_t>& ys, int64_t i);

}  // namespace tpusim::compiler
