// QLinearConv and QLinearMatMul (onnxruntime's QOperator format), ConvInteger and MatMulInteger
// rewritten, before their shapes are
// inferred, into the QDQ form the lowering takes:
//   QLinearConv(x, xs, xz, w, ws, wz, ys, yz [, B])
//     -> Q(Conv(DQ(x, xs, xz), DQ(w, ws, wz; axis 0), DQ(B, xs * ws[c], 0; axis 0)), ys, yz)
//   QLinearMatMul(a, as, az, b, bs, bz, ys, yz) -> Q(MatMul(DQ(a), DQ(b; axis 1)), ys, yz)
//   ConvInteger(x, w, xz, wz) -> Q(Conv(DQ(x, 1, xz), DQ(w, 1, wz)), 1, 0; int32): the int32
//   accumulator itself, scale 1 (MatMulInteger likewise with MatMul).
// The ONNX definitions compute the same: an int32 sum of (x - xz)(w - wz) (+ B at scale xs*ws),
// rescaled by xs*ws/ys, rounded half to even and saturated at yz's type; the lowering does it with
// a multiplier and shift (within one step, docs/numerics.md). The weights must be constants (and
// symmetric, which lowering checks); scales and zero points constants.
#include <fmt/format.h>

#include <cmath>
#include <optional>

#include "compiler/canonicalize.h"

namespace tpusim::compiler {

namespace {

// QuantAttrs from n's constant scale (input si) and zero point (input zi, optional: zeros of
// `deflt`); per axis `axis` when the scale has more than one entry. Nothing when not constant.
std::optional<QuantAttrs> quant_attrs(const Graph& g, const Node& n, size_t si, size_t zi, ElemType deflt,
                                      int64_t axis) {
  const Tensor* s = g.constant(n.input(si));
  if (!s || s->type != ElemType::F32 || s->shape.size() > 1) return std::nullopt;
  QuantAttrs a;
  a.scale = s->f32;
  for (float v : a.scale)
    if (!(v > 0.0f) || !std::isfinite(v))
      g.fail(n, fmt::format("scale '{}' has value {}: scales must be positive and finite", s->name, v));
  a.axis = a.scale.size() == 1 ? -1 : axis;
  a.qtype = deflt;
  a.zero_point.assign(a.scale.size(), 0);
  if (!n.input(zi).empty()) {
    const Tensor* z = g.constant(n.input(zi));
    if (!z || is_float(z->type) || z->elements() != s->elements()) return std::nullopt;
    a.qtype = z->type;
    a.zero_point = z->ints;
  }
  return a;
}

// Conv attributes from the ONNX attributes, as onnx_attrs.cpp reads a Conv's.
ConvAttrs conv_attrs(const Graph& g, const Node& n) {
  const auto& o = n.attr<OnnxAttrs>();
  auto fixed = [&](const char* name, std::vector<int64_t> def, size_t count) {
    const auto* v = o.find_ints(name);
    if (v && v->size() != count) g.fail(n, fmt::format("attribute {} must have {} values", name, count));
    return v ? *v : def;
  };
  ConvAttrs a;
  const auto k = fixed("kernel_shape", {0, 0}, 2), s = fixed("strides", {1, 1}, 2),
             d = fixed("dilations", {1, 1}, 2), p = fixed("pads", {0, 0, 0, 0}, 4);
  a.kernel = {k[0], k[1]};
  a.strides = {s[0], s[1]};
  a.dilations = {d[0], d[1]};
  a.pads = {p[0], p[1], p[2], p[3]};
  a.group = o.i("group", 1);
  a.auto_pad = parse_auto_pad(g, n, o.s("auto_pad", "NOTSET"));
  return a;
}

std::string add_tensor(Graph& g, const std::string& name) {
  g.tensors[name].name = name;
  return name;
}

// Scale 1 and the zero point of input zi (constant, per tensor or along `axis`; absent: 0) of an
// integer operand of type t. Nothing when the zero point is not a constant.
std::optional<QuantAttrs> unit_scale(const Graph& g, const Node& n, size_t zi, ElemType t, int64_t axis) {
  QuantAttrs a;
  a.qtype = t;
  a.scale = {1.0f};
  a.zero_point = {0};
  if (n.inputs.size() <= zi || n.input(zi).empty()) return a;
  const Tensor* z = g.constant(n.input(zi));
  if (!z || is_float(z->type) || z->elements() < 1) return std::nullopt;
  a.zero_point = z->ints;
  a.scale.assign(z->ints.size(), 1.0f);
  if (z->ints.size() > 1) a.axis = axis;
  return a;
}

}  // namespace

std::vector<Node> expand_integer(Graph& g, const Node& n) {
  const bool conv = n.op == Op::ConvInteger;
  const std::string &x = n.input(0), &w = n.input(1), &y = n.outputs[0];
  const Tensor* wt = g.constant(w);
  if (!g.has(x) || g.constant(x) || !wt || is_float(wt->type)) return {};
  if (!conv && wt->shape.size() != 2) return {};
  const auto xq = unit_scale(g, n, 2, g.tensor(x).type, 1);
  const auto wq = unit_scale(g, n, 3, wt->type, conv ? 0 : 1);
  if (!xq || !wq || !xq->per_tensor()) return {};
  QuantAttrs yq;  // the accumulator itself: scale 1, int32
  yq.qtype = ElemType::I32;
  yq.scale = {1.0f};
  yq.zero_point = {0};
  const std::string xd = add_tensor(g, y + "/x_dq"), wd = add_tensor(g, y + "/w_dq"),
                    acc = add_tensor(g, y + "/acc");
  std::vector<Node> out;
  out.push_back(make_node(n, Op::DequantizeLinear, {x}, xd, *xq, "x_dq"));
  out.push_back(make_node(n, Op::DequantizeLinear, {w}, wd, *wq, "w_dq"));
  if (conv)
    out.push_back(make_node(n, Op::Conv, {xd, wd}, acc, conv_attrs(g, n), "conv"));
  else
    out.push_back(make_node(n, Op::MatMul, {xd, wd}, acc, std::monostate{}, "matmul"));
  out.push_back(make_node(n, Op::QuantizeLinear, {acc}, y, yq, ""));
  return out;
}

std::vector<Node> expand_qlinear(Graph& g, const Node& n) {
  const bool conv = n.op == Op::QLinearConv;
  const std::string& x = n.input(0);
  const std::string& w = n.input(3);
  const Tensor* wt = g.constant(w);
  if (!g.has(x) || g.constant(x) || !wt || is_float(wt->type)) return {};
  if (!conv && wt->shape.size() != 2) return {};
  const auto xq = quant_attrs(g, n, 1, 2, g.tensor(x).type, 1);
  const auto wq = quant_attrs(g, n, 4, 5, wt->type, conv ? 0 : 1);
  const auto yq = quant_attrs(g, n, 6, 7, ElemType::U8, 1);
  if (!xq || !wq || !yq || !xq->per_tensor() || !yq->per_tensor()) return {};
  const std::string& y = n.outputs[0];
  std::vector<Node> out;
  const std::string xd = add_tensor(g, y + "/x_dq"), wd = add_tensor(g, y + "/w_dq"),
                    acc = add_tensor(g, y + "/acc");
  out.push_back(make_node(n, Op::DequantizeLinear, {x}, xd, *xq, "x_dq"));
  out.push_back(make_node(n, Op::DequantizeLinear, {w}, wd, *wq, "w_dq"));
  std::vector<std::string> ins{xd, wd};
  if (conv && n.inputs.size() > 8 && !n.input(8).empty()) {
    const Tensor* b = g.constant(n.input(8));
    if (!b || b->type != ElemType::I32 || b->shape.size() != 1) return {};
    QuantAttrs bq;  // the accumulator's scale, as ONNX defines B: xs * ws[c] in float
    bq.qtype = ElemType::I32;
    bq.axis = 0;
    for (int64_t c = 0; c < b->elements(); ++c)
      bq.scale.push_back(xq->scale[0] * wq->scale[wq->scale.size() == 1 ? 0 : static_cast<size_t>(c)]);
    bq.zero_point.assign(bq.scale.size(), 0);
    const std::string bd = add_tensor(g, y + "/b_dq");
    out.push_back(make_node(n, Op::DequantizeLinear, {n.input(8)}, bd, bq, "b_dq"));
    ins.push_back(bd);
  }
  if (conv)
    out.push_back(make_node(n, Op::Conv, ins, acc, conv_attrs(g, n), "conv"));
  else
    out.push_back(make_node(n, Op::MatMul, ins, acc, std::monostate{}, "matmul"));
  out.push_back(make_node(n, Op::QuantizeLinear, {acc}, y, *yq, ""));
  return out;
}

}  // namespace tpusim::compiler
