#include "compiler/strip_qdq.h"

#include <algorithm>
#include <map>
#include <set>

namespace tpusim::compiler {

Graph strip_activation_qdq(const Graph& g) {
  // DequantizeLinear output -> the float tensor its QuantizeLinear read.
  std::map<std::string, std::string> replace;
  for (const Node& n : g.nodes) {
    if (n.op != Op::DequantizeLinear) continue;
    const Node* q = g.producer(n.input(0));
    if (!q || q->op != Op::QuantizeLinear || g.constant(q->input(0))) continue;
    replace[n.outputs[0]] = q->input(0);
  }
  Graph out = g;
  auto rename = [&](std::string& name) {
    auto it = replace.find(name);
    if (it != replace.end()) name = it->second;
  };
  std::vector<Node> nodes;
  for (Node n : g.nodes) {
    if (n.op == Op::DequantizeLinear && replace.count(n.outputs[0])) {
      out.tensors.erase(n.outputs[0]);
      continue;
    }
    for (std::string& in : n.inputs) rename(in);
    nodes.push_back(std::move(n));
  }
  for (std::string& o : out.outputs) rename(o);
  // Drop the QuantizeLinear nodes nothing reads any more (their integers only fed removed pairs).
  std::set<std::string> used(out.outputs.begin(), out.outputs.end());
  for (const Node& n : nodes) used.insert(n.inputs.begin(), n.inputs.end());
  out.nodes.clear();
  for (Node& n : nodes) {
    if (n.op == Op::QuantizeLinear && !used.count(n.outputs[0])) {
      out.tensors.erase(n.outputs[0]);
      continue;
    }
    out.nodes.push_back(std::move(n));
  }
  // A graph output listed twice (two pairs on one tensor) is kept once.
  std::vector<std::string> outs;
  for (const std::string& o : out.outputs)
    if (std::find(outs.begin(), outs.end(), o) == outs.end()) outs.push_back(o);
  out.outputs = std::move(outs);
  out.remove_unused_tensors();
  return out;
}

}  // namespace tpusim::compiler
