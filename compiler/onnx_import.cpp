#include "compiler/onnx_import.h"

#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "base/error.h"
#include "base/file_io.h"
#include "base/printable.h"
#include "compiler/canonicalize.h"
#include "compiler/onnx_internal.h"

namespace tpusim::compiler {

using onnx_detail::parse_attrs;
using onnx_detail::tensor_from_proto;

namespace {

struct Arity {
  int min_in, max_in;
};
Arity arity(Op op) {
  switch (op) {
    case Op::Conv:
    case Op::Gemm: return {2, 3};
    case Op::MatMul:
    case Op::Add:
    case Op::Mul: return {2, 2};
    case Op::Clip: return {1, 3};
    case Op::Reshape: return {1, 2};
    case Op::BatchNormalization: return {5, 5};
    case Op::Concat: return {1, INT_MAX};
    case Op::QuantizeLinear:
    case Op::DequantizeLinear: return {2, 3};
    case Op::Dropout: return {1, 3};
    case Op::Gather:
    case Op::Sub:
    case Op::Div:
    case Op::Pow:
    case Op::Equal:
    case Op::Mod:
    case Op::Expand: return {2, 2};
    case Op::Where:
    case Op::ScatterND: return {3, 3};
    case Op::LayerNormalization: return {2, 3};
    case Op::Unsqueeze:
    case Op::Squeeze:
    case Op::ReduceMean: return {1, 2};
    case Op::Range: return {3, 3};
    case Op::Slice: return {1, 5};
    case Op::Pad: return {1, 4};
    case Op::Split: return {1, 2};
    case Op::Resize: return {1, 4};
    case Op::QLinearConv: return {8, 9};
    case Op::QLinearMatMul: return {8, 8};
    case Op::ConvInteger:
    case Op::MatMulInteger: return {2, 4};
    default: return {1, 1};
  }
}

bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

// A Constant node becomes a constant tensor.
Tensor constant_value(const onnx::NodeProto& p, const std::string& where) {
  if (p.output_size() != 1 || p.attribute_size() != 1)
    throw Error(fmt::format("{}: expected one output and one value attribute", where));
  const auto& a = p.attribute(0);
  const std::string& out = p.output(0);
  if (a.name() == "value") return tensor_from_proto(a.t(), out, where);
  Tensor t;
  t.name = out;
  t.is_const = true;
  if (a.name() == "value_float")
    t = make_f32(out, {}, {a.f()});
  else if (a.name() == "value_floats")
    t = make_f32(out, {a.floats_size()}, {a.floats().begin(), a.floats().end()});
  else if (a.name() == "value_int")
    t = make_ints(out, {}, ElemType::I64, {a.i()});
  else if (a.name() == "value_ints")
    t = make_ints(out, {a.ints_size()}, ElemType::I64,
                  std::vector<int64_t>(a.ints().begin(), a.ints().end()));
  else
    throw Error(fmt::format("{}: value attribute '{}' is not supported", where, a.name()));
  t.is_const = true;
  return t;
}

void add_input(Graph& g, const onnx::ValueInfoProto& vi, const ImportOptions& opt) {
  const std::string where = fmt::format("{}: input '{}'", g.source, vi.name());
  if (!vi.type().has_tensor_type()) throw Error(where + ": not a tensor");
  const auto& tt = vi.type().tensor_type();
  const auto type = elem_type_from_onnx(tt.elem_type());
  if (!type) throw Error(fmt::format("{}: unsupported element type {}", where, tt.elem_type()));
  if (!tt.has_shape()) throw Error(where + ": has no shape (static shapes are required)");
  Tensor t;
  t.name = vi.name();
  t.type = *type;
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto& d = tt.shape().dim(i);
    if (d.has_dim_value() && d.dim_value() > (int64_t{1} << 31)) {
      throw Error(fmt::format("{}: dimension {} is too large ({})", where, i, d.dim_value()));
    } else if (d.has_dim_value() && d.dim_value() == 0 && i > 0) {
      throw Error(fmt::format("{}: dimension {} is 0 (empty tensors are not supported)", where, i));
    } else if (d.has_dim_value() && d.dim_value() > 0) {
      t.shape.push_back(d.dim_value());
    } else if (i == 0) {
      if (opt.batch <= 0) throw Error(fmt::format("{}: batch size {} must be positive", where, opt.batch));
      t.shape.push_back(opt.batch);
    } else {
      throw Error(fmt::format("{}: dimension {} is dynamic ('{}'); only the batch dimension may be", where, i,
                              d.dim_param()));
    }
  }
  if (num_elements(t.shape) > (int64_t{1} << 32) || t.shape.size() > 8)
    throw Error(fmt::format("{}: shape {} is too large", where, shape_str(t.shape)));
  g.tensors[t.name] = t;
  g.inputs.push_back(t.name);
}

void add_node(Graph& g, const onnx::NodeProto& p, size_t index) {
  Node n;
  n.name = !p.name().empty() ? p.name() : p.output_size() > 0 ? p.output(0) : fmt::format("node{}", index);
  const auto op = default_domain(p.domain()) ? op_from_onnx(p.op_type()) : std::nullopt;
  if (!op) {
    const std::string dom = default_domain(p.domain()) ? fmt::format(" at opset {}", g.opset)
                                                       : fmt::format(" in domain '{}'", p.domain());
    throw Error(
        fmt::format("{}: node '{}' ({}): unsupported op{} (supported ops: docs/compiler.md, \"Operators\")",
                    g.source, n.name, p.op_type(), dom));
  }
  n.op = *op;
  n.inputs.assign(p.input().begin(), p.input().end());
  n.outputs.assign(p.output().begin(), p.output().end());
  while (!n.inputs.empty() && n.inputs.back().empty()) n.inputs.pop_back();
  while (!n.outputs.empty() && n.outputs.back().empty()) n.outputs.pop_back();
  const Arity ar = arity(n.op);
  if (static_cast<int>(n.inputs.size()) < ar.min_in || static_cast<int>(n.inputs.size()) > ar.max_in)
    g.fail(n, fmt::format("has {} inputs, expected {}{}", n.inputs.size(), ar.min_in,
                          ar.max_in == ar.min_in ? ""
                          : ar.max_in == INT_MAX ? " or more"
                                                 : fmt::format("..{}", ar.max_in)));
  const bool more_ok = (n.op == Op::Dropout && n.outputs.size() == 2) || n.op == Op::Split ||
                       (n.op == Op::LayerNormalization && n.outputs.size() <= 3);
  if (n.outputs.size() != 1 && !more_ok)
    g.fail(n, fmt::format("has {} outputs, only one is supported", n.outputs.size()));
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (n.inputs[i].empty() && !(i >= 1 && (n.op == Op::Clip || n.op >= Op::Identity)) &&
        !(i == 2 && (n.op == Op::Conv || n.op == Op::Gemm || n.op == Op::QuantizeLinear ||
                     n.op == Op::DequantizeLinear)))
      g.fail(n, fmt::format("required input {} is empty", i));
  parse_attrs(p, n, g);
  for (const std::string& o : n.outputs) {
    if (g.has(o)) g.fail(n, fmt::format("output '{}' is already a graph input or initializer", o));
    g.tensors[o].name = o;
  }
  g.nodes.push_back(std::move(n));
}

}  // namespace

namespace {

[[noreturn]] void not_onnx(const std::string& source) {
  throw Error(
      fmt::format("{}: not an ONNX model (protobuf parse failed: truncated or another format)", source));
}

// Frees a converted initializer's data, so the model is held about once (proto shrinking while
// the graph's tensors grow) instead of twice.
void release_data(onnx::TensorProto& t) {
  std::string().swap(*t.mutable_raw_data());
  google::protobuf::RepeatedField<float>().Swap(t.mutable_float_data());
  google::protobuf::RepeatedField<int32_t>().Swap(t.mutable_int32_data());
  google::protobuf::RepeatedField<int64_t>().Swap(t.mutable_int64_data());
}

Graph graph_from_model(onnx::ModelProto& m, const std::string& source, const ImportOptions& opt);

}  // namespace

Graph import_onnx_bytes(std::span<const uint8_t> bytes, const std::string& source, const ImportOptions& opt) {
  if (bytes.empty()) throw Error(fmt::format("{}: empty file, not an ONNX model", source));
  onnx::ModelProto m;
  if (bytes.size() > INT_MAX || !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    not_onnx(source);
  return graph_from_model(m, source, opt);
}

Graph import_onnx(const std::string& path, const ImportOptions& opt) {
  // Parsed from the file, not from a copy of its bytes in memory (a VGG is 0.5 GB). The same
  // errors as read_file_bytes.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("{}: cannot read: is a directory", path));
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  if (f.peek() == std::ifstream::traits_type::eof()) {
    if (f.bad()) throw Error(fmt::format("{}: cannot read: I/O error", path));
    throw Error(fmt::format("{}: empty file, not an ONNX model", path));
  }
  onnx::ModelProto m;
  if (!m.ParseFromIstream(&f)) {
    if (f.bad()) throw Error(fmt::format("{}: cannot read: I/O error", path));
    not_onnx(path);
  }
  return graph_from_model(m, path, opt);
}

namespace {

// Names reach one-line error messages and reports: a control character in any of them is refused
// here, once, naming where it is (shown escaped).
void check_names(const onnx::GraphProto& gp, const std::string& source) {
  auto check = [&](const std::string& s, const std::string& what) {
    for (unsigned char c : s)
      if (c < 0x20 || c == 0x7f)
        throw Error(
            fmt::format("{}: {} '{}' contains control character 0x{:02x}", source, what, printable(s), c));
  };
  for (const auto* list : {&gp.input(), &gp.output(), &gp.value_info()})
    for (const auto& vi : *list) check(vi.name(), "graph value");
  for (const auto& t : gp.initializer()) check(t.name(), "initializer");
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& n = gp.node(i);
    const std::string where = fmt::format("node {}", i);
    for (const std::string* s : {&n.name(), &n.op_type(), &n.domain()})
      check(*s, where + " name, op type or domain");
    for (const std::string& s : n.input()) check(s, where + " input");
    for (const std::string& s : n.output()) check(s, where + " output");
    for (const auto& a : n.attribute()) check(a.name(), where + " attribute");
  }
}

Graph graph_from_model(onnx::ModelProto& m, const std::string& source, const ImportOptions& opt) {
  if (m.ir_version() <= 0 || !m.has_graph() || m.opset_import_size() == 0)
    throw Error(fmt::format(
        "{}: not an ONNX model (no ir_version, graph or opset_import: truncated or another format)", source));
  check_names(m.graph(), source);
  Graph g;
  g.source = source;
  for (const auto& o : m.opset_import())
    if (default_domain(o.domain())) g.opset = o.version();
  if (g.opset <= 0) throw Error(fmt::format("{}: model imports no default-domain (ai.onnx) opset", source));
  auto& gp = *m.mutable_graph();
  if (gp.sparse_initializer_size() > 0)
    throw Error(fmt::format("{}: sparse initializers are not supported", source));
  for (auto& init : *gp.mutable_initializer()) {
    if (g.has(init.name()))
      throw Error(fmt::format("{}: initializer '{}' is defined twice", source, init.name()));
    g.tensors[init.name()] =
        tensor_from_proto(init, init.name(), fmt::format("{}: initializer '{}'", source, init.name()));
    release_data(init);
  }
  for (const auto& vi : gp.input())
    if (!g.has(vi.name())) add_input(g, vi, opt);  // inputs that are also initializers are constants
  if (g.inputs.empty()) throw Error(fmt::format("{}: the graph has no (non-initializer) inputs", source));
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& p = gp.node(i);
    if (p.op_type() == "Constant" && default_domain(p.domain())) {
      const std::string name = p.output_size() ? p.output(0) : "";
      Tensor t = constant_value(
          p, fmt::format("{}: node '{}' (Constant)", source, p.name().empty() ? name : p.name()));
      if (g.has(name)) throw Error(fmt::format("{}: Constant output '{}' is defined twice", source, name));
      g.tensors[name] = std::move(t);
      continue;
    }
    if (p.op_type() == "Identity" && default_domain(p.domain()) && p.input_size() == 1 &&
        p.output_size() == 1 && g.constant(p.input(0)) && !g.has(p.output(0))) {
      // A constant under another name (torch.onnx shares zero points this way): a constant too, so
      // the QuantizeLinear/Clip/Reshape parameters that read it resolve at import.
      Tensor t = *g.constant(p.input(0));
      t.name = p.output(0);
      g.tensors[t.name] = std::move(t);
      continue;
    }
    add_node(g, p, static_cast<size_t>(i));
  }
  for (const auto& vi : gp.output()) g.outputs.push_back(vi.name());
  if (g.outputs.empty()) throw Error(fmt::format("{}: the graph has no outputs", source));
  g.topo_sort();
  canonicalize(g);
  g.remove_unused_tensors();
  return g;
}

}  // namespace

}  // namespace tpusim::compiler
