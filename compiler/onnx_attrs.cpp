// ONNX node attributes -> typed IR attributes, one function per op family. Values the IR cannot
// represent (pooling dilations, blocked quantization, training-mode
// BatchNormalization) are rejected here, naming the node.
#include <fmt/format.h>

#include <cmath>

#include "compiler/canonicalize.h"
#include "compiler/onnx_internal.h"

namespace tpusim::compiler {

AutoPad parse_auto_pad(const Graph& g, const Node& n, const std::string& auto_pad) {
  if (auto_pad == "NOTSET" || auto_pad == "VALID") return AutoPad::NotSet;
  if (auto_pad == "SAME_UPPER") return AutoPad::SameUpper;
  if (auto_pad == "SAME_LOWER") return AutoPad::SameLower;
  g.fail(n,
         fmt::format("auto_pad={} is not an ONNX value (NOTSET, VALID, SAME_UPPER, SAME_LOWER)", auto_pad));
}

}  // namespace tpusim::compiler

namespace tpusim::compiler::onnx_detail {

namespace {

struct Ctx {
  const onnx::NodeProto& p;
  Node& n;
  const Graph& g;

  const onnx::AttributeProto* find(const char* name) const {
    for (const auto& a : p.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  int64_t i(const char* name, int64_t def) const {
    const auto* a = find(name);
    return a ? a->i() : def;
  }
  float f(const char* name, float def) const {
    const auto* a = find(name);
    return a ? a->f() : def;
  }
  std::string s(const char* name, const std::string& def) const {
    const auto* a = find(name);
    return a ? a->s() : def;
  }
  std::vector<int64_t> ints(const char* name, size_t want, std::vector<int64_t> def) const {
    const auto* a = find(name);
    if (!a) return def;
    std::vector<int64_t> v(a->ints().begin(), a->ints().end());
    if (v.size() != want)
      g.fail(n, fmt::format("attribute {} has {} values, expected {} (only 2-D ops are supported)", name,
                            v.size(), want));
    return v;
  }
  // A constant input, or a failure naming it.
  const Tensor& constant_input(size_t idx, const char* what) const {
    const std::string& name = n.input(idx);
    const Tensor* t = g.constant(name);
    if (!t)
      g.fail(n, fmt::format("{} '{}' must be a constant (an initializer or a Constant node)", what, name));
    return *t;
  }
  AutoPad auto_pad() const { return parse_auto_pad(g, n, s("auto_pad", "NOTSET")); }
};

template <size_t N>
std::array<int64_t, N> arr(const std::vector<int64_t>& v) {
  std::array<int64_t, N> a{};
  for (size_t k = 0; k < N; ++k) a[k] = v[k];
  return a;
}

void conv(const Ctx& c) {
  ConvAttrs a;
  a.auto_pad = c.auto_pad();
  a.kernel = arr<2>(c.ints("kernel_shape", 2, {0, 0}));
  a.strides = arr<2>(c.ints("strides", 2, {1, 1}));
  a.dilations = arr<2>(c.ints("dilations", 2, {1, 1}));
  a.pads = arr<4>(c.ints("pads", 4, {0, 0, 0, 0}));
  a.group = c.i("group", 1);
  c.n.attrs = a;
}

void pool(const Ctx& c) {
  const AutoPad ap = c.auto_pad();
  for (int64_t d : c.ints("dilations", 2, {1, 1}))
    if (d != 1) c.g.fail(c.n, "pooling dilations other than 1 are not supported");
  if (!c.find("kernel_shape")) c.g.fail(c.n, "attribute kernel_shape is required");
  PoolAttrs a;
  a.kernel = arr<2>(c.ints("kernel_shape", 2, {}));
  a.strides = arr<2>(c.ints("strides", 2, {1, 1}));
  a.pads = arr<4>(c.ints("pads", 4, {0, 0, 0, 0}));
  a.count_include_pad = c.i("count_include_pad", 0) != 0;
  a.ceil_mode = c.i("ceil_mode", 0) != 0;
  a.auto_pad = ap;
  c.n.attrs = a;
}

float scalar_f32(const Ctx& c, size_t idx, const char* what) {
  const Tensor& t = c.constant_input(idx, what);
  if (t.type != ElemType::F32 || t.elements() != 1)
    c.g.fail(c.n, fmt::format("{} '{}' must be a float32 scalar", what, t.name));
  return t.f32[0];
}

void clip(const Ctx& c) {
  ClipAttrs a;
  if (c.g.opset < 11) {
    a.min = c.f("min", a.min);
    a.max = c.f("max", a.max);
  } else {
    if (!c.n.input(1).empty()) a.min = scalar_f32(c, 1, "min");
    if (!c.n.input(2).empty()) a.max = scalar_f32(c, 2, "max");
  }
  c.n.inputs.resize(1);
  c.n.attrs = a;
}

void reshape(const Ctx& c) {
  ReshapeAttrs a;
  a.allowzero = c.i("allowzero", 0) != 0;
  if (const auto* s = c.find("shape"); s && c.n.input(1).empty()) {  // opset < 5
    a.target.assign(s->ints().begin(), s->ints().end());
  } else if (!c.g.constant(c.n.input(1))) {
    a.target_pending = true;  // computed by a shape subgraph: canonicalization resolves it
    c.n.attrs = a;
    return;
  } else {
    a.target = reshape_target(c.g, c.n, *c.g.constant(c.n.input(1)));
  }
  c.n.inputs.resize(1);
  c.n.attrs = a;
}

// Every attribute as written, for the ops canonicalization removes.
void onnx_attrs(const Ctx& c) {
  OnnxAttrs a;
  for (const auto& at : c.p.attribute()) {
    using A = onnx::AttributeProto;
    switch (at.type()) {
      case A::INT: a.ints[at.name()] = {at.i()}; break;
      case A::INTS: a.ints[at.name()].assign(at.ints().begin(), at.ints().end()); break;
      case A::FLOAT: a.floats[at.name()] = {at.f()}; break;
      case A::FLOATS: a.floats[at.name()].assign(at.floats().begin(), at.floats().end()); break;
      case A::STRING: a.strings[at.name()] = at.s(); break;
      case A::TENSOR:
        a.tensors[at.name()] = tensor_from_proto(
            at.t(), at.name(), fmt::format("{}: node '{}' attribute '{}'", c.g.source, c.n.name, at.name()));
        break;
      default: c.g.fail(c.n, fmt::format("attribute {} has an unsupported type", at.name()));
    }
  }
  c.n.attrs = std::move(a);
}

void quant(const Ctx& c) {
  if (c.i("block_size", 0) != 0) c.g.fail(c.n, "blocked quantization (block_size) is not supported");
  const bool is_q = c.n.op == Op::QuantizeLinear;
  QuantAttrs a;
  const Tensor& scale = c.constant_input(1, "scale");
  if (scale.type != ElemType::F32) c.g.fail(c.n, fmt::format("scale '{}' must be float32", scale.name));
  if (scale.shape.size() > 1) c.g.fail(c.n, fmt::format("scale '{}' must be a scalar or 1-D", scale.name));
  for (float s : scale.f32)
    if (!(s > 0.0f) || !std::isfinite(s))
      c.g.fail(c.n,
               fmt::format("scale '{}' has value {}: scales must be positive and finite", scale.name, s));
  a.scale = scale.f32;
  a.axis = scale.elements() == 1 ? -1 : c.i("axis", 1);
  if (!c.n.input(2).empty()) {
    const Tensor& zp = c.constant_input(2, "zero point");
    const bool ok_type = zp.type == ElemType::I8 || zp.type == ElemType::U8 || zp.type == ElemType::I4 ||
                         zp.type == ElemType::U4 || (!is_q && zp.type == ElemType::I32);
    if (!ok_type)
      c.g.fail(c.n, fmt::format("zero point '{}' has unsupported type {}", zp.name, elem_type_name(zp.type)));
    if (zp.elements() != scale.elements())
      c.g.fail(c.n, fmt::format("zero point '{}' has {} values, scale '{}' has {}", zp.name, zp.elements(),
                                scale.name, scale.elements()));
    a.qtype = zp.type;
    a.zero_point = zp.ints;
  } else if (is_q) {
    const int64_t od = c.i("output_dtype", 0);
    const auto t =
        od == 0 ? std::optional<ElemType>(ElemType::U8) : elem_type_from_onnx(static_cast<int32_t>(od));
    if (!t || *t == ElemType::F32 || *t == ElemType::I32 || *t == ElemType::I64)
      c.g.fail(c.n, fmt::format("output_dtype {} is not supported (int8, uint8, int4, uint4)", od));
    a.qtype = *t;
    a.zero_point.assign(a.scale.size(), 0);
  }  // DequantizeLinear without a zero point: type and zeros come from the input (shape inference)
  c.n.inputs.resize(1);
  c.n.attrs = a;
}

}  // namespace

void parse_attrs(const onnx::NodeProto& p, Node& n, const Graph& g) {
  const Ctx c{p, n, g};
  switch (n.op) {
    case Op::Conv: conv(c); return;
    case Op::MaxPool:
    case Op::AveragePool: pool(c); return;
    case Op::Gemm:
      n.attrs =
          GemmAttrs{c.f("alpha", 1.0f), c.f("beta", 1.0f), c.i("transA", 0) != 0, c.i("transB", 0) != 0};
      return;
    case Op::Clip: clip(c); return;
    case Op::Flatten: n.attrs = FlattenAttrs{c.i("axis", 1)}; return;
    case Op::Reshape: reshape(c); return;
    case Op::BatchNormalization:
      if (c.i("training_mode", 0) != 0) g.fail(n, "training_mode=1 is not supported (inference only)");
      n.attrs = BatchNormAttrs{c.f("epsilon", 1e-5f)};
      return;
    case Op::Concat:
      if (!c.find("axis")) g.fail(n, "attribute axis is required");
      n.attrs = ConcatAttrs{c.i("axis", 0)};
      return;
    case Op::QuantizeLinear:
    case Op::DequantizeLinear: quant(c); return;
    case Op::HardSigmoid: n.attrs = PointwiseAttrs{c.f("alpha", 0.2f), c.f("beta", 0.5f), false}; return;
    case Op::LeakyRelu: n.attrs = PointwiseAttrs{c.f("alpha", 0.01f), 0.0f, false}; return;
    case Op::Elu: n.attrs = PointwiseAttrs{c.f("alpha", 1.0f), 0.0f, false}; return;
    case Op::Gelu: {
      const std::string ap = c.s("approximate", "none");
      if (ap != "none" && ap != "tanh") g.fail(n, fmt::format("approximate={} is not supported", ap));
      n.attrs = PointwiseAttrs{0.0f, 0.0f, ap == "tanh"};
      return;
    }
    case Op::HardSwish: n.attrs = PointwiseAttrs{1.0f / 6, 0.5f, false}; return;
    case Op::Softmax:  // opsets 1-11: over the input coerced to 2-D at `axis` (default 1)
      n.attrs = g.opset >= 13 ? SoftmaxAttrs{c.i("axis", -1), false} : SoftmaxAttrs{c.i("axis", 1), true};
      return;
    case Op::LayerNormalization: n.attrs = LayerNormAttrs{c.i("axis", -1), c.f("epsilon", 1e-5f), {}}; return;
    case Op::Sigmoid:
    case Op::Tanh:
    case Op::Exp:
    case Op::Erf:
    case Op::Softplus: n.attrs = PointwiseAttrs{}; return;
    default:
      if (n.op >= Op::Identity) return onnx_attrs(c);
      n.attrs = std::monostate{};
      return;
  }
}

}  // namespace tpusim::compiler::onnx_detail
