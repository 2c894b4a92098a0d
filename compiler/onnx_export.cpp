// Graph IR -> ONNX ModelProto (onnx_export.h), mirroring onnx_import.cpp, onnx_attrs.cpp and
// onnx_tensor.cpp.
#include "compiler/onnx_export.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <set>

#include "base/error.h"
#include "base/file_io.h"
#include "compiler/onnx_export_internal.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

namespace {

using namespace export_detail;

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

void Exporter::emit(const Node& n) {
  if (n.outputs.size() != 1)
    g_.fail(n, fmt::format("has {} outputs, ONNX export writes one", n.outputs.size()));
  switch (n.op) {
    case Op::Conv: {
      const auto& a = n.attr<ConvAttrs>();
      auto& p = same(n);
      attr_ints(p, "kernel_shape", a.kernel);
      attr_ints(p, "strides", a.strides);
      attr_ints(p, "dilations", a.dilations);
      attr_ints(p, "pads", a.pads);
      attr(p, "group", a.group);
      return;
    }
    case Op::Gemm: {
      const auto& a = n.attr<GemmAttrs>();
      auto& p = same(n);
      attr(p, "alpha", a.alpha);
      attr(p, "beta", a.beta);
      attr(p, "transA", int64_t{a.trans_a});
      attr(p, "transB", int64_t{a.trans_b});
      return;
    }
    case Op::MatMul:
    case Op::Relu:
    case Op::GlobalAveragePool:
    case Op::Add:
    case Op::Mul:
    case Op::Sigmoid:
    case Op::Tanh:
    case Op::Exp:
    case Op::Erf:
    case Op::Softplus: same(n); return;
    case Op::Clip: {
      // Opset 11+: min and max are (optional) scalar inputs; an infinite bound is left out.
      const auto& a = n.attr<ClipAttrs>();
      const std::string lo = std::isinf(a.min) ? "" : f32(n.outputs[0] + "_min", {}, {a.min});
      const std::string hi = std::isinf(a.max) ? "" : f32(n.outputs[0] + "_max", {}, {a.max});
      std::vector<std::string> in{n.input(0), lo, hi};
      while (in.back().empty()) in.pop_back();
      node("Clip", n.name, in, n.outputs[0]);
      return;
    }
    case Op::MaxPool:
    case Op::AveragePool: {
      const auto& a = n.attr<PoolAttrs>();
      if (a.ceil_mode) g_.fail(n, "ceil_mode is unresolved (export needs an inferred graph)");
      auto& p = same(n);
      attr_ints(p, "kernel_shape", a.kernel);
      attr_ints(p, "strides", a.strides);
      attr_ints(p, "pads", a.pads);
      if (n.op == Op::AveragePool) attr(p, "count_include_pad", int64_t{a.count_include_pad});
      return;
    }
    case Op::Flatten: attr(same(n), "axis", n.attr<FlattenAttrs>().axis); return;
    case Op::Reshape: {
      const auto& a = n.attr<ReshapeAttrs>();
      if (a.target_pending) g_.fail(n, "the target is unresolved (export needs a canonicalized graph)");
      // allowzero exists from opset 14; below, the inferred output shape says the same.
      const bool az = a.allowzero && opset_ >= 14;
      const Shape target = a.allowzero && !az ? g_.tensor(n.outputs[0]).shape : a.target;
      const std::string s = i64(n.outputs[0] + "_shape", {static_cast<int64_t>(target.size())}, target);
      auto& p = node("Reshape", n.name, {n.input(0), s}, n.outputs[0]);
      if (az) attr(p, "allowzero", int64_t{1});
      return;
    }
    case Op::BatchNormalization: attr(same(n), "epsilon", n.attr<BatchNormAttrs>().epsilon); return;
    case Op::Concat: attr(same(n), "axis", n.attr<ConcatAttrs>().axis); return;
    case Op::QuantizeLinear:
    case Op::DequantizeLinear: quant(n); return;
    case Op::ChannelAffine: channel_affine(n); return;
    case Op::ChannelGather: channel_gather(n); return;
    case Op::Rearrange: rearrange(n); return;
    case Op::HardSigmoid: {
      const auto& a = n.attr<PointwiseAttrs>();
      auto& p = same(n);
      attr(p, "alpha", a.alpha);
      attr(p, "beta", a.beta);
      return;
    }
    case Op::LeakyRelu:
    case Op::Elu: attr(same(n), "alpha", n.attr<PointwiseAttrs>().alpha); return;
    case Op::HardSwish: {
      const auto& a = n.attr<PointwiseAttrs>();
      if (opset_ >= 14 && a.alpha == 1.0f / 6 && a.beta == 0.5f) {
        same(n);
        return;
      }
      // x * HardSigmoid(x): import fuses it back into this HardSwish (same alpha and beta).
      const std::string gate = fresh(n.outputs[0] + "_hardsigmoid");
      auto& p = node("HardSigmoid", n.name + "/hardsigmoid", {n.input(0)}, gate);
      attr(p, "alpha", a.alpha);
      attr(p, "beta", a.beta);
      node("Mul", n.name, {n.input(0), gate}, n.outputs[0]);
      return;
    }
    case Op::Silu: {  // x * Sigmoid(x): import fuses it back into Silu
      const std::string gate = unary("Sigmoid", n, "sigmoid", n.input(0));
      node("Mul", n.name, {n.input(0), gate}, n.outputs[0]);
      return;
    }
    case Op::Gelu: gelu(n); return;
    case Op::Softmax: {
      const auto& a = n.attr<SoftmaxAttrs>();
      if (a.flatten && a.axis + 1 != static_cast<int64_t>(g_.tensor(n.input(0)).shape.size()))
        g_.fail(n, "a Softmax over several flattened axes (opset < 13) has no opset-13 form");
      attr(same(n), "axis", a.axis);
      return;
    }
    case Op::LayerNormalization: layer_norm(n); return;
    default: g_.fail(n, "cannot be exported to ONNX (not an op of a canonicalized graph)");
  }
}

// LayerNormalization exists from opset 17 (export_onnx picks 17 when the graph has one). A fused
// decomposed form may lack the scale: ones. The Mean/InvStdDev outputs are not written.
void Exporter::layer_norm(const Node& n) {
  if (opset_ < 17) g_.fail(n, fmt::format("LayerNormalization needs opset 17 (asked for {})", opset_));
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (!n.outputs[i].empty()) g_.fail(n, "the Mean and InvStdDev outputs are not exported");
  const auto& a = n.attr<LayerNormAttrs>();
  std::vector<std::string> in = n.inputs;
  in.resize(3);
  if (in[1].empty()) {
    const Shape& x = g_.tensor(in[0]).shape;
    const Shape inner(x.begin() + a.axis, x.end());
    in[1] = f32(n.outputs[0] + "_scale", inner,
                std::vector<float>(static_cast<size_t>(num_elements(inner)), 1.0f));
  }
  if (in[2].empty()) in.pop_back();
  auto& p = node("LayerNormalization", n.name, in, n.outputs[0]);
  attr(p, "axis", a.axis);
  attr(p, "epsilon", a.epsilon);
}

void Exporter::quant(const Node& n) {
  const auto& a = n.attr<QuantAttrs>();
  const bool is_q = n.op == Op::QuantizeLinear;
  // The quantized side's type: a QuantizeLinear's attribute, a DequantizeLinear's input.
  const std::string& q_side = is_q ? n.outputs[0] : n.input(0);
  const bool widened = widened_.count(q_side) != 0;
  const ElemType qt = widened ? container_of(a.qtype) : is_q ? a.qtype : g_.tensor(n.input(0)).type;
  if (is_float(qt)) g_.fail(n, fmt::format("quantized type {} is not an integer type", elem_type_name(qt)));
  if (a.scale.empty() || a.zero_point.size() != a.scale.size())
    g_.fail(n, fmt::format("has {} scales and {} zero points", a.scale.size(), a.zero_point.size()));
  const Shape shape = a.per_tensor() ? Shape{} : Shape{static_cast<int64_t>(a.scale.size())};
  if (a.per_tensor() && a.scale.size() != 1)
    g_.fail(n, fmt::format("is per tensor with {} scales", a.scale.size()));
  const std::string s = f32(n.outputs[0] + "_scale", shape, a.scale);
  const std::string zp = constant(n.outputs[0] + "_zero_point", make_ints("", shape, qt, a.zero_point));
  std::string x =
      n.input(0);  // widened, a Q gets the Clip to its 4-bit range the container does not saturate at
  if (is_q && widened) {
    const auto zp0 = static_cast<int32_t>(a.zero_point[0]);
    const float lo = dequantize_linear(static_cast<int32_t>(qmin(a.qtype)), a.scale[0], zp0);
    const float hi = dequantize_linear(static_cast<int32_t>(qmax(a.qtype)), a.scale[0], zp0);
    const std::string clipped = fresh(n.outputs[0] + "_clipped");
    node("Clip", n.name + "/clip",
         {x, f32(n.outputs[0] + "_min", {}, {lo}), f32(n.outputs[0] + "_max", {}, {hi})}, clipped);
    x = clipped;
  }
  auto& p = node(op_name(n.op), n.name, {x, s, zp}, n.outputs[0]);
  if (!a.per_tensor()) attr(p, "axis", a.axis);
}

// y = x * s[c] + t[c]: Mul and Add by [C, 1, ...] constants (broadcast along the channel axis).
void Exporter::channel_affine(const Node& n) {
  const Shape& xs = g_.tensor(n.input(0)).shape;
  if (xs.size() < 2) g_.fail(n, fmt::format("input {} has no channel axis", shape_str(xs)));
  Shape cs(xs.size() - 1, 1);
  cs[0] = xs[1];
  std::string k[2];
  for (size_t i = 0; i < 2; ++i) {
    const Tensor* t = g_.constant(n.input(i + 1));
    if (!t || t->type != ElemType::F32 || t->elements() != xs[1])
      g_.fail(n, fmt::format("parameter '{}' must be a float constant of {} values", n.input(i + 1), xs[1]));
    k[i] = f32(n.input(i + 1) + (cs.size() > 1 ? "_c11" : "_c"), cs, t->f32);
  }
  const std::string scaled = binary("Mul", n, "scale", n.input(0), k[0]);
  node("Add", n.name, {scaled, k[1]}, n.outputs[0]);
}

// A Slice when the channels are in steps, the channel shuffle canonicalization fuses, or a Gather.
void Exporter::channel_gather(const Node& n) {
  const auto& ch = n.attr<GatherAttrs>().channels;
  const Shape& xs = g_.tensor(n.input(0)).shape;
  if (ch.empty() || xs.size() < 2) g_.fail(n, "selects no channel or has no channel axis");
  const int64_t C = xs[1], co = static_cast<int64_t>(ch.size());
  const int64_t step = co > 1 ? ch[1] - ch[0] : 1;
  bool steps = step > 0;
  for (int64_t c = 1; c < co && steps; ++c)
    steps = ch[static_cast<size_t>(c)] - ch[static_cast<size_t>(c - 1)] == step;
  if (steps) {
    const std::string pre = n.outputs[0];
    node("Slice", n.name,
         {n.input(0), i64(pre + "_starts", {1}, {ch[0]}), i64(pre + "_ends", {1}, {ch.back() + 1}),
          i64(pre + "_axes", {1}, {1}), i64(pre + "_steps", {1}, {step})},
         n.outputs[0]);
    return;
  }
  int64_t groups = 0;
  if (xs.size() == 4 && co == C)
    for (int64_t gr = 2; gr < C && groups == 0; ++gr) {
      if (C % gr != 0) continue;
      bool ok = true;
      for (int64_t c = 0; c < C && ok; ++c) ok = ch[static_cast<size_t>(c)] == (c % gr) * (C / gr) + c / gr;
      if (ok) groups = gr;
    }
  if (groups > 0) {  // Reshape [N, g, C/g, H, W] -> Transpose {0, 2, 1, 3, 4} -> Reshape [N, C, H, W]
    const std::string pre = n.outputs[0];
    const std::string s5 = i64(pre + "_shape5", {5}, {xs[0], groups, C / groups, xs[2], xs[3]});
    const std::string r1 = binary("Reshape", n, "split", n.input(0), s5);
    const std::string tr = fresh(pre + "_transposed");
    attr_ints(node("Transpose", n.name + "/transpose", {r1}, tr), "perm",
              std::vector<int64_t>{0, 2, 1, 3, 4});
    node("Reshape", n.name, {tr, i64(pre + "_shape4", {4}, xs)}, n.outputs[0]);
    return;
  }
  attr(node("Gather", n.name, {n.input(0), i64(n.outputs[0] + "_indices", {co}, ch)}, n.outputs[0]), "axis",
       int64_t{1});
}

// Rearrange -> the op it came from: Transpose; Slice over every axis; Resize (nearest, asymmetric
// coordinates, floor: source index i / scale, what import maps back to the same Rearrange).
void Exporter::rearrange(const Node& n) {
  const auto& a = n.attr<RearrangeAttrs>();
  const std::string pre = n.outputs[0];
  using K = RearrangeAttrs::Kind;
  if (a.kind == K::Transpose) {
    attr_ints(node("Transpose", n.name, {n.input(0)}, n.outputs[0]), "perm", a.perm);
  } else if (a.kind == K::Slice) {
    std::vector<int64_t> ends, axes;
    for (size_t k = 0; k < a.starts.size(); ++k) {
      ends.push_back(a.starts[k] + (a.sizes[k] - 1) * a.steps[k] + 1);
      axes.push_back(static_cast<int64_t>(k));
    }
    const auto r = static_cast<int64_t>(axes.size());
    node("Slice", n.name,
         {n.input(0), i64(pre + "_starts", {r}, a.starts), i64(pre + "_ends", {r}, ends),
          i64(pre + "_axes", {r}, axes), i64(pre + "_steps", {r}, a.steps)},
         n.outputs[0]);
  } else {
    const std::vector<float> scales(a.scales.begin(), a.scales.end());
    auto& p = node("Resize", n.name,
                   {n.input(0), "", f32(pre + "_scales", {static_cast<int64_t>(scales.size())}, scales)},
                   n.outputs[0]);
    attr(p, "mode", std::string("nearest"));
    attr(p, "coordinate_transformation_mode", std::string("asymmetric"));
    attr(p, "nearest_mode", std::string("floor"));
  }
}

// Gelu from opset 20; below, its formula: 0.5 * x * (1 + erf(x / sqrt(2))), or with the tanh
// approximation 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
void Exporter::gelu(const Node& n) {
  const auto& a = n.attr<PointwiseAttrs>();
  const std::string& x = n.input(0);
  if (opset_ >= 20) {
    auto& p = same(n);
    if (a.tanh_approx) attr(p, "approximate", std::string("tanh"));
    return;
  }
  const std::string pre = n.outputs[0];
  std::string inner;
  if (!a.tanh_approx) {
    const std::string d =
        binary("Div", n, "div", x, f32(pre + "_sqrt2", {}, {static_cast<float>(std::sqrt(2.0))}));
    inner = unary("Erf", n, "erf", d);
  } else {
    const std::string x2 = binary("Mul", n, "sq", x, x);
    const std::string x3 = binary("Mul", n, "cube", x2, x);
    const std::string c3 = binary("Mul", n, "c3", x3, f32(pre + "_c", {}, {0.044715f}));
    const std::string sum = binary("Add", n, "sum", x, c3);
    const std::string arg =
        binary("Mul", n, "arg", sum, f32(pre + "_k", {}, {static_cast<float>(std::sqrt(2.0 / M_PI))}));
    inner = unary("Tanh", n, "tanh", arg);
  }
  const std::string one = binary("Add", n, "one", inner, f32(pre + "_one", {}, {1.0f}));
  const std::string xs = binary("Mul", n, "x", x, one);
  binary("Mul", n, "half", xs, f32(pre + "_half", {}, {0.5f}), n.outputs[0]);
}

}  // namespace

std::string export_onnx(const Graph& g, int64_t opset) {
  const bool four = uses_4bit(g);
  // 13 by default; 17 for a LayerNormalization node, 20 for a Gelu node (their decomposed forms
  // would not lower again); 21 for 4-bit types.
  auto has = [&](Op op) {
    return std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op == op; });
  };
  if (opset == 0) opset = four ? 21 : has(Op::Gelu) ? 20 : has(Op::LayerNormalization) ? 17 : 13;
  if (opset < 13) g.fail(fmt::format("ONNX export writes opset 13 or later, not {}", opset));
  if (four && opset < 21)
    g.fail(
        fmt::format("the graph has int4/uint4 inputs or outputs, which need opset 21 (asked for {})", opset));
  return Exporter(g, opset).run();
}

void save_onnx(const Graph& g, const std::string& path) { write_file_atomic(path, export_onnx(g)); }

}  // namespace tpusim::compiler
