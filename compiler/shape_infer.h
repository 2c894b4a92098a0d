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

}  // namespace tpusim::compiler
