// Shared by the ONNX importer's files (onnx_import.cpp, onnx_tensor.cpp, onnx_attrs.cpp); not a
// public header: it pulls in the ONNX protobuf classes.
#pragma once
#include <onnx/onnx_pb.h>

#include <string>

#include "compiler/graph.h"

namespace tpusim::compiler::onnx_detail {

// An initializer (or Constant value) as an IR constant. `where` prefixes errors, e.g.
// "model.onnx: initializer 'w1'". Throws for external data, an unsupported element type, or
// data whose size does not match the dims.
Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& name, const std::string& where);

// Fills node.attrs from the ONNX attributes (and, for Clip/Reshape/QDQ, constant inputs, which
// are then dropped from node.inputs). Errors through g.fail(node, ...).
void parse_attrs(const onnx::NodeProto& p, Node& node, const Graph& g);

}  // namespace tpusim::compiler::onnx_detail
