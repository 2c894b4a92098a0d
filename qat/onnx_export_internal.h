// Internal to the QAT exporter: the Exporter walks a DeployModel's layers and writes their ONNX
// nodes (onnx_export.cpp: the CNN layers and the QDQ patterns; onnx_export_transformer.cpp: the
// transformer layers of vit_tiny).
#pragma once
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "base/error.h"
#include "qat/deploy_model.h"
#include "qat/onnx_export.h"
#include "qat/onnx_graph_writer.h"

namespace tpusim::qat::export_detail {

using models::Activation;
using models::kImage;
using models::Layer;
using models::LayerKind;

inline std::string grid_name(const QuantSpec& s) {
  return fmt::format("{}-bit {}{} grid [{}, {}]", s.bits, s.is_signed ? "signed" : "unsigned",
                     s.narrow ? " narrow" : "", s.qmin(), s.qmax());
}

inline bool same_grid(const QuantParams& a, const QuantParams& b) {
  return a.scale == b.scale && a.zero_point == b.zero_point && a.spec.bits == b.spec.bits &&
         a.spec.is_signed == b.spec.is_signed && a.spec.narrow == b.spec.narrow;
}

class Exporter : GraphWriter {
 public:
  Exporter(const DeployModel& m, const ExportOptions& opt) : GraphWriter(opt.four_bit_types), m_(m) {}

  std::string run() {
    const std::vector<models::ModelSpec::Shape> shapes = m_.spec.shapes();
    for (const Layer& l : m_.spec.layers)
      seq_.push_back(l.inputs[0] != kImage && shapes[static_cast<size_t>(l.inputs[0])].seq);
    validate();
    header();
    std::string image = "image";
    if (m_.quantized) image = quant_dequant(clip_to(image, "image", m_.input), "image", "image_dq", m_.input);
    for (size_t i = 0; i < m_.spec.layers.size(); ++i) emit(i, image);
    auto* out = g->add_output();
    out->set_name("scores");
    auto* tt = out->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(kOnnxFloat);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    tt->mutable_shape()->add_dim()->set_dim_value(m_.spec.classes);
    return model.SerializeAsString();
  }

 private:
  const DeployModel& m_;
  std::vector<std::string> values_;  // per layer: the float tensor its consumers read
  std::vector<QuantParams> grids_;   // per layer: its output grid (quantized models)

  [[noreturn]] void fail(const std::string& where, const std::string& msg) const {
    throw Error(fmt::format("ONNX export of '{}': {}: {}", m_.spec.name, where, msg));
  }
  [[noreturn]] void fail(size_t i, const std::string& msg) const {
    const Layer& l = m_.spec.layers[i];
    fail(fmt::format("layer '{}' ({})", l.name, models::name(l.kind)), msg);
  }

  template <class Where>
  void check_params(const Where& where, const QuantParams& p, const char* what) const {
    try {
      p.spec.validate();
    } catch (const Error& e) {
      fail(where, fmt::format("{} grid: {}", what, e.what()));
    }
    if (!(p.scale > 0.0f) || !std::isfinite(p.scale))
      fail(where, fmt::format("{} scale {} is not > 0", what, p.scale));
    if (p.zero_point < p.spec.qmin() || p.zero_point > p.spec.qmax())
      fail(where, fmt::format("{} zero point {} is outside its {}", what, p.zero_point, grid_name(p.spec)));
  }

  int64_t weight_count(const Layer& l) const {
    return l.kind == LayerKind::Conv ? l.out_ch * (l.in_ch / l.groups) * l.kernel * l.kernel
                                     : l.out_ch * l.in_ch;
  }

  void validate_weights(size_t i) const {
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
        fail(i, fmt::format("weight[{}] = {} is not on its grid: {} x scale {} (channel {})", k, d.weight[k],
                            q, d.w_scale[k / per], k / per));
      if (q < d.w_spec.qmin() - 1e-3 || q > d.w_spec.qmax() + 1e-3)
        fail(i, fmt::format("weight[{}] = {} is {} steps, outside the {}", k, d.weight[k], std::nearbyint(q),
                            grid_name(d.w_spec)));
    }
  }

  void validate() {
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

  void header() {
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

  // The weight as DequantizeLinear of its integers (per output channel, zero point 0), or float.
  std::string weight(size_t i, const std::vector<int64_t>& dims) {
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
    const std::string z =
        ints(l.name + ".weight_zero_point", {l.out_ch}, t, std::vector<int32_t>(l.out_ch, 0));
    attr(node("DequantizeLinear", {qn, s, z}, l.name + ".weight"), "axis", int64_t{0});
    return l.name + ".weight";
  }

  // The bias as DequantizeLinear of int32 at float(s_in * s_w[c]) (the accumulator's scale), or float.
  std::string bias(size_t i, float s_in) {
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

  // After the layer's op (output y): [Relu] [Clip to a narrow grid] [QuantizeLinear ->
  // DequantizeLinear onto `grid`]; the DQ output is named after the layer (or "scores"). The FP32
  // export keeps the float names ("conv1_relu") the QDQ export quantizes, so `tpusim compare
  // --fp32` matches every layer; only its model output is renamed "scores".
  void finish(size_t i, std::string y, const QuantParams* grid, bool clip_to_grid = true) {
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

  void emit(size_t i, const std::string& image) {
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
      case LayerKind::Add:
        return finish(i, node("Add", {input(0), input(1)}, l.name + "_add").output(0), own);
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

  // Transformer layers (onnx_export_transformer.cpp).
  static bool transformer_grid(LayerKind k) {
    return k == LayerKind::LayerNorm || k == LayerKind::Gelu || k == LayerKind::Attention ||
           k == LayerKind::ClassToken || k == LayerKind::PosEmbed;
  }
  std::vector<bool> seq_;  // per layer: its input is a token sequence
  void validate_transformer(size_t i) const;
  // x @ W^T + b per token: MatMul with a [in, out] weight (per-channel DequantizeLinear on axis 1)
  // and an Add of the bias (on its int32 grid s_in * s_w[c] when quantized).
  std::string token_linear(size_t i, const std::string& x, float s_in);
  void emit_transformer(size_t i, const std::vector<std::string>& in, const QuantParams* own);
  // ClassToken / PosEmbed's constant (DequantizeLinear of its integers when quantized), expanded to
  // the shape tensor `expand_to` when given.
  std::string constant(size_t i, const std::vector<int64_t>& dims, const std::string& expand_to = "");
};

}  // namespace tpusim::qat::export_detail
