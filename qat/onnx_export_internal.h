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

  // The DeployModel against its spec (onnx_export.cpp): one error line naming the layer.
  void validate_weights(size_t i) const;
  void validate();
  void header();  // ir_version, opset, the input "image"

  // The weight as DequantizeLinear of its integers (per output channel, zero point 0), or float.
  std::string weight(size_t i, const std::vector<int64_t>& dims);

  // The bias as DequantizeLinear of int32 at float(s_in * s_w[c]) (the accumulator's scale), or float.
  std::string bias(size_t i, float s_in);

  // After the layer's op (output y): [Relu] [Clip to a narrow grid] [QuantizeLinear ->
  // DequantizeLinear onto `grid`]; the DQ output is named after the layer (or "scores"). The FP32
  // export keeps the float names ("conv1_relu") the QDQ export quantizes, so `tpusim compare
  // --fp32` matches every layer; only its model output is renamed "scores".
  void finish(size_t i, std::string y, const QuantParams* grid, bool clip_to_grid = true);
  void emit(size_t i, const std::string& image);  // one layer's nodes

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
