#include "compiler/int_graph.h"

#include <fmt/format.h>

#include "base/error.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

Multiplier make_multiplier(double scale) {
  const QuantMultiplier q = quantize_multiplier(scale);
  return {q.m0, q.shift, scale, q.rel_error};
}

const char* kind_name(const IOp& op) {
  struct Name {
    const char* operator()(const IConv&) const { return "conv2d"; }
    const char* operator()(const IMatmul&) const { return "matmul"; }
    const char* operator()(const IPool&) const { return "pool"; }
    const char* operator()(const IEltwise&) const { return "eltwise"; }
    const char* operator()(const IRequant&) const { return "requant"; }
    const char* operator()(const ILut&) const { return "lut"; }
    const char* operator()(const ILayerNorm&) const { return "layernorm"; }
    const char* operator()(const ISoftmax&) const { return "softmax"; }
    const char* operator()(const IActMatmul&) const { return "act_matmul"; }
    const char* operator()(const IConcat&) const { return "concat"; }
    const char* operator()(const IGather&) const { return "gather"; }
    const char* operator()(const IRearrange&) const { return "rearrange"; }
  };
  return std::visit(Name{}, op.kind);
}

const ITensor& IntGraph::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw Error(fmt::format("{}: integer graph has no tensor '{}'", source, name));
  return it->second;
}

const std::string& IntGraph::storage(const std::string& name) const {
  const ITensor& t = tensor(name);
  return t.view_of.empty() ? t.name : tensor(t.view_of).name;  // views always name a non-view
}

}  // namespace tpusim::compiler
