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

namespace export_detail {

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

}  // namespace export_detail

using namespace export_detail;

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
