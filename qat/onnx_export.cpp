// ONNX export: one pass over the spec's layers, emitting the QDQ (or FP32) nodes of each, after
// validating the DeployModel against its spec. The patterns are the ones compiler/lower.h accepts;
// docs/qat.md, "Export", lists them.
#include "qat/onnx_export.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <limits>
#include <span>

#include "base/error.h"
#include "base/file_io.h"
#include "isa/numerics.h"
#include "qat/onnx_export_internal.h"

namespace tpusim::qat {

namespace export_detail {

void Exporter::validate_weights(size_t i) const {
  const Layer& l = m_.spec.layers[i];
  const DeployLayer& d = m_.layers[i];
  const int64_t n = weight_count(l);
  if (static_cast<int64_t>(d.weight.size()) != n)
    fail(i, fmt::format("weight has {} values, expected {}", d.weight.size(), n));
  if (!d.bias.empty() && static_cast<int64_t>(d.bias.size()) != l.out_ch)
    fail(i, fmt::format("bias has {} values, expected {} (or none)", d.bias.size(), l.out_ch));
  for (size_t k = 0; k < d.weight.size(); ++k)
    if (!std::isfinite(d.weight[k])) fail(i, fmt::format("weight[{}] is {}", k, d.weight[k]));
  for (size_t k = 0; k < d.bias.size(); ++k)
    if (!std::isfinite(d.bias[k])) fail(i, fmt::format("bias[{}] is {}", k, d.bias[k]));
  if (!m_.quantized) return;
  try {
    d.w_spec.validate();
  } catch (const Error& e) {
    fail(i, fmt::format("weight grid: {}", e.what()));
  }
  if (!d.w_spec.is_signed) fail(i, "weight grid must be signed (weights are symmetric)");
  if (static_cast<int64_t>(d.w_scale.size()) != l.out_ch)
    fail(i, fmt::format("w_scale has {} values, expected one per output channel ({})", d.w_scale.size(),
                        l.out_ch));
  for (size_t c = 0; c < d.w_scale.size(); ++c)
    if (!(d.w_scale[c] > 0.0f) || !std::isfinite(d.w_scale[c]))
      fail(i, fmt::format("w_scale[{}] = {} is not > 0", c, d.w_scale[c]));
  const size_t per = d.weight.size() / static_cast<size_t>(l.out_ch);
  for (size_t k = 0; k < d.weight.size(); ++k) {
    const double q = static_cast<double>(d.weight[k]) / d.w_scale[k / per];
    if (std::fabs(std::nearbyint(q) - q) > 1e-3)
      fail(i, fmt::format("weight[{}] = {} is not on its grid: {} x scale {} (channel {})", k, d.weight[k], q,
                          d.w_scale[k / per], k / per));
    if (q < d.w_spec.qmin() - 1e-3 || q > d.w_spec.qmax() + 1e-3)
      fail(i, fmt::format("weight[{}] = {} is {} steps, outside the {}", k, d.weight[k], std::nearbyint(q),
                          grid_name(d.w_spec)));
  }
}

void Exporter::validate() {
  const models::ModelSpec& s = m_.spec;
  s.shapes();  // validates the spec itself
  if (m_.layers.size() != s.layers.size())
    throw Error(fmt::format("ONNX export of '{}': {} layer parameter sets for {} spec layers", s.name,
                            m_.layers.size(), s.layers.size()));
  if (m_.quantized) check_params(std::string("input 'image'"), m_.input, "quantization");
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const Layer& l = s.layers[i];
    const DeployLayer& d = m_.layers[i];
    const bool weighted = l.kind == LayerKind::Conv || l.kind == LayerKind::Linear;
    if (weighted) validate_weights(i);
    validate_transformer(i);
    if (!m_.quantized) continue;
    const bool own_grid = weighted || l.kind == LayerKind::GlobalAvgPool || l.kind == LayerKind::Add ||
                          transformer_grid(l.kind);
    if (own_grid && !d.has_out) fail(i, "output quantization parameters (out) are missing");
    if (own_grid) check_params(i, d.out, "output");
  }
}

void Exporter::header() {
  const bool typed = four_bit_types;
  bool four = m_.quantized && is_4bit(container(m_.input.spec, typed));
  for (size_t i = 0; m_.quantized && i < m_.layers.size(); ++i) {
    const Layer& l = m_.spec.layers[i];
    if (l.kind == LayerKind::Conv || l.kind == LayerKind::Linear)
      four |= is_4bit(container(m_.layers[i].w_spec, typed));
    if (m_.layers[i].has_out) four |= is_4bit(container(m_.layers[i].out.spec, typed));
  }
  // int4/uint4 tensors need opset 21 (ir_version 10), LayerNormalization opset 17; everything
  // else is opset 13, which more tools read.
  const bool ln = m_.spec.transformer();
  model.set_ir_version(four ? 10 : 8);
  model.set_producer_name("tpusim-qat");
  auto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(four ? 21 : ln ? 17 : 13);
  g->set_name(m_.spec.name);
  auto* in = g->add_input();
  in->set_name("image");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(kOnnxFloat);
  auto* sh = tt->mutable_shape();
  sh->add_dim()->set_dim_param("N");
  for (int64_t d : {m_.spec.in_ch, m_.spec.height, m_.spec.width}) sh->add_dim()->set_dim_value(d);
}

std::string Exporter::weight(size_t i, const std::vector<int64_t>& dims) {
  const Layer& l = m_.spec.layers[i];
  const DeployLayer& d = m_.layers[i];
  if (!m_.quantized) return floats(l.name + ".weight", dims, d.weight);
  const DType t = container(d.w_spec, four_bit_types);
  const size_t per = d.weight.size() / static_cast<size_t>(l.out_ch);
  std::vector<int32_t> q(d.weight.size());
  for (size_t k = 0; k < q.size(); ++k)
    q[k] = static_cast<int32_t>(std::nearbyint(static_cast<double>(d.weight[k]) / d.w_scale[k / per]));
  const std::string qn = ints(l.name + ".weight_q", dims, t, q);
  const std::string s = floats(l.name + ".weight_scale", {l.out_ch}, d.w_scale);
  const std::string z = ints(l.name + ".weight_zero_point", {l.out_ch}, t, std::vector<int32_t>(l.out_ch, 0));
  attr(node("DequantizeLinear", {qn, s, z}, l.name + ".weight"), "axis", int64_t{0});
  return l.name + ".weight";
}

std::string Exporter::bias(size_t i, float s_in) {
  const Layer& l = m_.spec.layers[i];
  const DeployLayer& d = m_.layers[i];
  if (!m_.quantized) return floats(l.name + ".bias", {l.out_ch}, d.bias);
  std::vector<float> scale(d.bias.size());
  std::vector<int32_t> q(d.bias.size());
  for (size_t c = 0; c < d.bias.size(); ++c) {
    scale[c] = s_in * d.w_scale[c];
    const double v = std::nearbyint(static_cast<double>(d.bias[c]) / scale[c]);  // half to even
    if (std::fabs(v) > std::numeric_limits<int32_t>::max())
      fail(i, fmt::format("bias[{}] = {} is {} steps of s_in * s_w = {}: outside int32", c, d.bias[c], v,
                          scale[c]));
    q[c] = static_cast<int32_t>(v);
  }
  const std::string qn = ints(l.name + ".bias_q", {l.out_ch}, DType::Int32, q);
  const std::string s = floats(l.name + ".bias_scale", {l.out_ch}, scale);
  attr(node("DequantizeLinear", {qn, s}, l.name + ".bias"), "axis", int64_t{0});
  return l.name + ".bias";
}

void Exporter::finish(size_t i, std::string y, const QuantParams* grid, bool clip_to_grid) {
  const Layer& l = m_.spec.layers[i];
  const std::string final = i + 1 == m_.spec.layers.size() ? "scores" : l.name;
  if (l.act == Activation::Relu) y = node("Relu", {y}, l.name + "_relu").output(0);
  if (grid && clip_to_grid) y = clip_to(y, l.name, *grid);
  if (grid) {
    y = quant_dequant(y, l.name, final, *grid);
  } else if (final == "scores" || y == l.name) {
    auto* last = g->mutable_node(g->node_size() - 1);
    last->set_output(0, final);
    last->set_name(final);
    y = final;
  }
  values_.push_back(y);
}

void Exporter::emit(size_t i, const std::string& image) {
  const Layer& l = m_.spec.layers[i];
  const DeployLayer& d = m_.layers[i];
  auto input = [&](size_t k) { return l.inputs[k] == kImage ? image : values_[l.inputs[k]]; };
  const QuantParams in_grid = !m_.quantized           ? QuantParams{}
                              : l.inputs[0] == kImage ? m_.input
                                                      : grids_[static_cast<size_t>(l.inputs[0])];
  // A MaxPool keeps its input's grid (re-quantized onto it: exact, no Clip needed); Flatten is
  // a view of its input.
  const bool keeps_grid = l.kind == LayerKind::MaxPool || l.kind == LayerKind::Flatten ||
                          l.kind == LayerKind::Tokens || l.kind == LayerKind::ClassSelect;
  if (m_.quantized && keeps_grid && d.has_out && !same_grid(d.out, in_grid))
    fail(i, "has output parameters (out) other than its input's: it keeps its input's grid");
  grids_.push_back(keeps_grid ? in_grid : d.out);
  const QuantParams grid = grids_.back();
  const QuantParams* own = m_.quantized ? &grid : nullptr;
  switch (l.kind) {
    case LayerKind::Conv: {
      std::vector<std::string> ins{input(0), weight(i, {l.out_ch, l.in_ch / l.groups, l.kernel, l.kernel})};
      if (!d.bias.empty()) ins.push_back(bias(i, in_grid.scale));
      auto& n = node("Conv", ins, l.name + "_conv");
      attr(n, "kernel_shape", {l.kernel, l.kernel});
      attr(n, "pads", {l.pad, l.pad, l.pad, l.pad});
      attr(n, "strides", {l.stride, l.stride});
      if (l.groups != 1) attr(n, "group", l.groups);
      return finish(i, n.output(0), own);
    }
    case LayerKind::Linear: {
      if (seq_[i]) return finish(i, token_linear(i, input(0), in_grid.scale), own);
      std::vector<std::string> ins{input(0), weight(i, {l.out_ch, l.in_ch})};
      if (!d.bias.empty()) ins.push_back(bias(i, in_grid.scale));
      auto& n = node("Gemm", ins, l.name + "_gemm");
      attr(n, "transB", int64_t{1});
      return finish(i, n.output(0), own);
    }
    case LayerKind::MaxPool: {
      auto& n = node("MaxPool", {input(0)}, l.name + "_maxpool");
      attr(n, "kernel_shape", {l.pool, l.pool});
      attr(n, "strides", {l.pool, l.pool});
      return finish(i, n.output(0), own, /*clip_to_grid=*/false);
    }
    case LayerKind::GlobalAvgPool:
      return finish(i, node("GlobalAveragePool", {input(0)}, l.name + "_gap").output(0), own);
    case LayerKind::Add: return finish(i, node("Add", {input(0), input(1)}, l.name + "_add").output(0), own);
    case LayerKind::Flatten: {
      attr(node("Flatten", {input(0)}, l.name), "axis", int64_t{1});
      return finish(i, l.name, nullptr);
    }
    default: {
      std::vector<std::string> ins;
      for (size_t k = 0; k < l.inputs.size(); ++k) ins.push_back(input(k));
      return emit_transformer(i, ins, own);
    }
  }
}

}  // namespace export_detail

using export_detail::Exporter;

std::string export_onnx_bytes(const DeployModel& m, const ExportOptions& opt) {
  return Exporter(m, opt).run();
}

void export_onnx(const DeployModel& m, const std::string& path, const ExportOptions& opt) {
  const std::string bytes = export_onnx_bytes(m, opt);
  write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace tpusim::qat
