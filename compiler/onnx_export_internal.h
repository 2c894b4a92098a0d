// Internals of the ONNX writer shared by onnx_export.cpp (the walk, Q/DQ), onnx_export_ops.cpp
// (the IR-only and fused ops written back as ONNX) and onnx_export_tensors.cpp.
#pragma once
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <set>
#include <string>
#include <vector>

#include "compiler/graph.h"

namespace tpusim::compiler::export_detail {

bool is_4bit(ElemType t);
// The 8-bit type of the same signedness.
ElemType container_of(ElemType t);
// The quantized sides of QuantizeLinear/DequantizeLinear nodes written in an 8-bit container: every
// 4-bit one except integer graph inputs and outputs (onnx_export.h says why).
std::set<std::string> widened_tensors(const Graph& g);
// Whether the written model has a 4-bit tensor: a 4-bit graph input or output.
bool uses_4bit(const Graph& g);
// The IR version that goes with a default-domain opset.
int64_t ir_version_for(int64_t opset);

// An IR constant as an initializer (raw_data, as onnx_tensor.cpp reads it); a 4-bit one in its
// 8-bit container when `widen`.
void fill_tensor(onnx::TensorProto& p, const Tensor& t, bool widen = false);
void fill_value_info(onnx::ValueInfoProto& vi, const Tensor& t);

void attr(onnx::NodeProto& p, const char* name, int64_t v);
void attr(onnx::NodeProto& p, const char* name, float v);
void attr(onnx::NodeProto& p, const char* name, const std::string& v);
template <class C>
void attr_ints(onnx::NodeProto& p, const char* name, const C& v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

// Writes one graph as a ModelProto, node by node.
class Exporter {
 public:
  Exporter(const Graph& g, int64_t opset) : g_(g), opset_(opset), widened_(widened_tensors(g)) {
    for (const auto& [name, t] : g.tensors) used_.insert(name);
    for (const Node& n : g.nodes) {
      used_.insert(n.inputs.begin(), n.inputs.end());
      used_.insert(n.outputs.begin(), n.outputs.end());
    }
  }

  std::string run() {
    m_.set_ir_version(ir_version_for(opset_));
    m_.set_producer_name("tpusim");
    auto* os = m_.add_opset_import();
    os->set_domain("");
    os->set_version(opset_);
    gp_ = m_.mutable_graph();
    gp_->set_name("tpusim");
    for (const std::string& in : g_.inputs) fill_value_info(*gp_->add_input(), g_.tensor(in));
    for (const Node& n : g_.nodes) emit(n);
    for (const std::string& out : g_.outputs) {
      if (g_.constant(out)) use(out);
      fill_value_info(*gp_->add_output(), g_.tensor(out));
    }
    return m_.SerializeAsString();
  }

 private:
  const Graph& g_;
  int64_t opset_;
  std::set<std::string> widened_;  // widened_tensors(g_)
  onnx::ModelProto m_;
  onnx::GraphProto* gp_ = nullptr;
  std::set<std::string> used_;         // tensor names taken
  std::set<std::string> node_names_;   // node names taken
  std::set<std::string> initialized_;  // initializers written

  // A tensor name no IR tensor and no generated one has.
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = fmt::format("{}_{}", base, k);
    used_.insert(name);
    return name;
  }

  // An IR tensor read by a node: constants become initializers (once).
  const std::string& use(const std::string& name) {
    if (name.empty()) return name;
    if (const Tensor* t = g_.constant(name); t && initialized_.insert(name).second)
      fill_tensor(*gp_->add_initializer(), *t, widened_.count(name) != 0);
    return name;
  }

  // A new initializer named after `base`.
  std::string constant(const std::string& base, Tensor t) {
    t.name = fresh(base);
    initialized_.insert(t.name);
    fill_tensor(*gp_->add_initializer(), t);
    return t.name;
  }
  std::string f32(const std::string& base, Shape shape, std::vector<float> v) {
    return constant(base, make_f32("", std::move(shape), std::move(v)));
  }
  std::string i64(const std::string& base, Shape shape, std::vector<int64_t> v) {
    return constant(base, make_ints("", std::move(shape), ElemType::I64, std::move(v)));
  }

  onnx::NodeProto& node(const std::string& op_type, const std::string& name,
                        const std::vector<std::string>& inputs, const std::string& output) {
    std::string unique = name;
    for (int k = 1; !node_names_.insert(unique).second; ++k) unique = fmt::format("{}_{}", name, k);
    auto* p = gp_->add_node();
    p->set_op_type(op_type);
    p->set_name(unique);
    for (const std::string& in : inputs) p->add_input(use(in));
    p->add_output(output);
    return *p;
  }
  // The node as the IR has it: same op type, inputs and output.
  onnx::NodeProto& same(const Node& n) { return node(op_name(n.op), n.name, n.inputs, n.outputs[0]); }

  // y = a * b as a new tensor (or into `out`).
  std::string binary(const char* op, const Node& n, const char* tag, const std::string& a,
                     const std::string& b, const std::string& out = "") {
    const std::string y = out.empty() ? fresh(fmt::format("{}_{}", n.outputs[0], tag)) : out;
    node(op, fmt::format("{}/{}", n.name, tag), {a, b}, y);
    return y;
  }
  std::string unary(const char* op, const Node& n, const char* tag, const std::string& x) {
    const std::string y = fresh(fmt::format("{}_{}", n.outputs[0], tag));
    node(op, fmt::format("{}/{}", n.name, tag), {x}, y);
    return y;
  }

  void emit(const Node& n);
  void quant(const Node& n);
  void channel_affine(const Node& n);
  void channel_gather(const Node& n);
  void rearrange(const Node& n);
  void gelu(const Node& n);
  void layer_norm(const Node& n);
};

}  // namespace tpusim::compiler::export_detail
