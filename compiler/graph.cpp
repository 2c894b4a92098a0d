#include "compiler/graph.h"

#include <fmt/format.h>

#include <set>

#include "base/error.h"

namespace tpusim::compiler {

const std::string& Node::input(size_t i) const {
  static const std::string empty;
  return i < inputs.size() ? inputs[i] : empty;
}

const Tensor& Graph::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail(fmt::format("unknown tensor '{}'", name));
  return it->second;
}

Tensor& Graph::tensor(const std::string& name) {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail(fmt::format("unknown tensor '{}'", name));
  return it->second;
}

const Tensor* Graph::constant(const std::string& name) const {
  auto it = tensors.find(name);
  return it != tensors.end() && it->second.is_const ? &it->second : nullptr;
}

const Node* Graph::producer(const std::string& tensor_name) const {
  for (const Node& n : nodes)
    for (const std::string& o : n.outputs)
      if (o == tensor_name) return &n;
  return nullptr;
}

std::vector<const Node*> Graph::consumers(const std::string& tensor_name) const {
  std::vector<const Node*> out;
  for (const Node& n : nodes)
    for (const std::string& i : n.inputs)
      if (i == tensor_name) {
        out.push_back(&n);
        break;
      }
  return out;
}

void Graph::topo_sort() {
  std::set<std::string> avail(inputs.begin(), inputs.end());
  for (const auto& [name, t] : tensors)
    if (t.is_const) avail.insert(name);
  std::set<std::string> produced;
  for (const Node& n : nodes)
    for (const std::string& o : n.outputs) {
      if (o.empty()) continue;
      if (avail.count(o) || !produced.insert(o).second)
        fail(n, fmt::format("output '{}' is already produced by another node, input or initializer", o));
    }
  std::vector<Node> sorted;
  std::vector<bool> done(nodes.size(), false);
  while (sorted.size() < nodes.size()) {
    bool progress = false;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (done[i]) continue;
      bool ready = true;
      for (const std::string& in : nodes[i].inputs) ready = ready && (in.empty() || avail.count(in));
      if (!ready) continue;
      for (const std::string& o : nodes[i].outputs) avail.insert(o);
      sorted.push_back(std::move(nodes[i]));
      done[i] = true;
      progress = true;
    }
    if (progress) continue;
    for (size_t i = 0; i < nodes.size(); ++i) {  // report the first stuck node
      if (done[i]) continue;
      for (const std::string& in : nodes[i].inputs)
        if (!in.empty() && !avail.count(in) && !produced.count(in))
          fail(nodes[i],
               fmt::format("input '{}' is not a graph input, an initializer or another node's output", in));
    }
    for (size_t i = 0; i < nodes.size(); ++i)
      if (!done[i]) fail(nodes[i], "is part of a cycle");
  }
  nodes = std::move(sorted);
  for (const std::string& o : outputs)
    if (!avail.count(o)) fail(fmt::format("graph output '{}' is not produced by any node", o));
}

void Graph::remove_unused_tensors() {
  std::set<std::string> used(inputs.begin(), inputs.end());
  used.insert(outputs.begin(), outputs.end());
  for (const Node& n : nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    used.insert(n.outputs.begin(), n.outputs.end());
  }
  for (auto it = tensors.begin(); it != tensors.end();)
    it = used.count(it->first) ? std::next(it) : tensors.erase(it);
}

void Graph::fail(const Node& n, const std::string& msg) const {
  throw Error(fmt::format("{}: node '{}' ({}): {}", source, n.name, op_name(n.op), msg));
}

void Graph::fail(const std::string& msg) const { throw Error(fmt::format("{}: {}", source, msg)); }

Shape reshape_target(const Graph& g, const Node& n, const Tensor& t) {
  if (t.type != ElemType::I64 || t.shape.size() != 1)
    g.fail(n, fmt::format("shape '{}' must be a 1-D int64 tensor", t.name));
  return t.ints;
}

}  // namespace tpusim::compiler
