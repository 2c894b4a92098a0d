// The compiler's graph IR: tensors by name, nodes in topological order, graph inputs/outputs.
// Built by import_onnx (onnx_import.h), annotated by infer_shapes (shape_infer.h), rewritten by
// passes (fold_batchnorm.h), executed by run_fp32 (fp32_interp.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "compiler/ops.h"
#include "compiler/tensor.h"

namespace tpusim::compiler {

struct Node {
  std::string name;  // the ONNX node name, or its first output's name when it has none
  Op op = Op::Relu;
  std::vector<std::string> inputs;  // "" = optional input absent
  std::vector<std::string> outputs;
  Attrs attrs;

  template <class T>
  const T& attr() const {
    return std::get<T>(attrs);
  }
  template <class T>
  T& attr() {
    return std::get<T>(attrs);
  }
  const std::string& input(size_t i) const;  // "" when absent
};

struct Graph {
  std::string source;  // file (or label) errors are reported against
  int64_t opset = 0;   // default-domain opset of the model
  std::map<std::string, Tensor> tensors;
  std::vector<Node> nodes;          // topologically sorted
  std::vector<std::string> inputs;  // runtime inputs (not initializers)
  std::vector<std::string> outputs;

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  const Tensor& tensor(const std::string& name) const;  // throws Error if unknown
  Tensor& tensor(const std::string& name);
  // A constant tensor with data, or nullptr.
  const Tensor* constant(const std::string& name) const;

  const Node* producer(const std::string& tensor_name) const;
  std::vector<const Node*> consumers(const std::string& tensor_name) const;

  // Reorders nodes topologically (stable for an already sorted graph). Throws Error naming the
  // node for an input nobody provides, a tensor produced twice, or a cycle.
  void topo_sort();
  // Drops constant tensors no node or output uses.
  void remove_unused_tensors();

  // "<source>: node '<name>' (<Op>): <msg>"
  [[noreturn]] void fail(const Node& n, const std::string& msg) const;
  [[noreturn]] void fail(const std::string& msg) const;  // "<source>: <msg>"
};

// The target of a Reshape from its shape input (1-D int64), or a failure naming the node.
Shape reshape_target(const Graph& g, const Node& n, const Tensor& shape);

}  // namespace tpusim::compiler
