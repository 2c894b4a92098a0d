// The transformer layers of the QAT exporter, written as torch.onnx writes a ViT at opset 17
// (tokens by Reshape + Transpose, the class token by Expand + Concat, LayerNormalization, GELU as
// its Erf form, heads by Reshape + Transpose, MatMuls of two activations, x[:, 0] by Gather), with
// QuantizeLinear -> DequantizeLinear where the compiler's integer graph requantizes: after the
// class-token Concat, the position-embedding Add, each LayerNorm, Linear and GELU, and inside the
// attention after Q*K^T, the Softmax and P*V (docs/qat.md, "Export").
#include <cmath>

#include "qat/onnx_export_internal.h"

namespace tpusim::qat::export_detail {

void Exporter::validate_transformer(size_t i) const {
  const Layer& l = m_.spec.layers[i];
  const DeployLayer& d = m_.layers[i];
  const std::vector<models::ModelSpec::Shape> s = m_.spec.shapes();
  auto count = [&](const std::vector<float>& v, size_t want, const char* what) {
    if (v.size() != want) fail(i, fmt::format("{} has {} values, expected {}", what, v.size(), want));
    for (size_t k = 0; k < v.size(); ++k)
      if (!std::isfinite(v[k])) fail(i, fmt::format("{}[{}] is {}", what, k, v[k]));
  };
  const auto D = static_cast<size_t>(s[i].c);
  if (l.kind == LayerKind::LayerNorm) {
    count(d.gamma, D, "gamma");
    count(d.beta, D, "beta");
  } else if (l.kind == LayerKind::ClassToken || l.kind == LayerKind::PosEmbed) {
    count(d.weight, l.kind == LayerKind::ClassToken ? D : D * static_cast<size_t>(s[i].h), "the constant");
    if (!m_.quantized) return;
    check_params(i, d.constant, "constant");
    for (size_t k = 0; k < d.weight.size(); ++k) {
      const double q = d.weight[k] / d.constant.scale + d.constant.zero_point;
      if (std::fabs(std::nearbyint(q) - q) > 1e-3 || q < d.constant.spec.qmin() - 1e-3 ||
          q > d.constant.spec.qmax() + 1e-3)
        fail(i,
             fmt::format("constant[{}] = {} is not on its {}", k, d.weight[k], grid_name(d.constant.spec)));
    }
  } else if (l.kind == LayerKind::Attention && m_.quantized) {
    if (d.inner.size() != 2)
      fail(i, fmt::format("{} inner grids, expected 2 (Q*K^T, softmax)", d.inner.size()));
    check_params(i, d.inner[0], "Q*K^T");
    check_params(i, d.inner[1], "softmax");
  }
}

std::string Exporter::constant(size_t i, const std::vector<int64_t>& dims, const std::string& expand_to) {
  const Layer& l = m_.spec.layers[i];
  const DeployLayer& d = m_.layers[i];
  // Expanded before the DequantizeLinear: the integers are then a constant the compiler folds.
  auto expand = [&](const std::string& c) {
    return expand_to.empty() ? c : node("Expand", {c, expand_to}, c + "_expanded").output(0);
  };
  if (!m_.quantized) return expand(floats(l.name + ".weight", dims, d.weight));
  const DType t = container(d.constant.spec, four_bit_types);
  std::vector<int32_t> q(d.weight.size());
  for (size_t k = 0; k < q.size(); ++k)
    q[k] = static_cast<int32_t>(std::nearbyint(d.weight[k] / d.constant.scale)) + d.constant.zero_point;
  const std::string qn = ints(l.name + ".weight_q", dims, t, q);
  const std::string s = floats(l.name + ".weight_scale", {}, std::vector<float>{d.constant.scale});
  const std::string z = ints(l.name + ".weight_zero_point", {}, t, {d.constant.zero_point});
  node("DequantizeLinear", {expand(qn), s, z}, l.name + ".weight");
  return l.name + ".weight";
}

std::string Exporter::token_linear(size_t i, const std::string& x, float s_in) {
  const Layer& l = m_.spec.layers[i];
  const DeployLayer& d = m_.layers[i];
  const int64_t in = l.in_ch, out = l.out_ch;
  std::vector<float> wt(d.weight.size());  // [in, out]: the MatMul's B
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < in; ++k)
      wt[static_cast<size_t>(k * out + o)] = d.weight[static_cast<size_t>(o * in + k)];
  std::string w = l.name + ".weight";
  std::vector<float> b = d.bias.empty() ? std::vector<float>(static_cast<size_t>(out), 0.0f) : d.bias;
  if (!m_.quantized) {
    floats(w, {in, out}, wt);
  } else {
    const DType t = container(d.w_spec, four_bit_types);
    std::vector<int32_t> q(wt.size());
    for (size_t k = 0; k < q.size(); ++k)
      q[k] = static_cast<int32_t>(
          std::nearbyint(static_cast<double>(wt[k]) / d.w_scale[k % static_cast<size_t>(out)]));
    const std::string qn = ints(l.name + ".weight_q", {in, out}, t, q);
    const std::string s = floats(l.name + ".weight_scale", {out}, d.w_scale);
    const std::string z = ints(l.name + ".weight_zero_point", {out}, t, std::vector<int32_t>(out, 0));
    attr(node("DequantizeLinear", {qn, s, z}, w), "axis", int64_t{1});
    // The bias on the accumulator's grid (float(s_in * s_w[c]) steps), written as the float it is.
    for (size_t c = 0; c < b.size(); ++c) {
      const float step = s_in * d.w_scale[c];
      const double v = std::nearbyint(static_cast<double>(b[c]) / step);
      if (std::fabs(v) > std::numeric_limits<int32_t>::max())
        fail(i, fmt::format("bias[{}] = {} is {} steps of s_in * s_w = {}: outside int32", c, b[c], v, step));
      b[c] = static_cast<float>(v) * step;
    }
  }
  node("MatMul", {x, w}, l.name + "_mm");
  return node("Add", {l.name + "_mm", floats(l.name + ".bias", {out}, b)}, l.name + "_add").output(0);
}

void Exporter::emit_transformer(size_t i, const std::vector<std::string>& in, const QuantParams* own) {
  const Layer& l = m_.spec.layers[i];
  const DeployLayer& d = m_.layers[i];
  const models::ModelSpec::Shape s = m_.spec.shapes()[i];
  const std::string& n = l.name;
  switch (l.kind) {
    case LayerKind::Tokens: {
      node("Reshape", {in[0], int64s(n + "_shape", {3}, {0, s.c, -1})}, n + "_3d");
      attr(node("Transpose", {n + "_3d"}, n), "perm", std::vector<int64_t>{0, 2, 1});
      return finish(i, n, nullptr);
    }
    case LayerKind::ClassSelect: {
      attr(node("Gather", {in[0], int64s(n + "_index", {}, {0})}, n), "axis", int64_t{1});
      return finish(i, n, nullptr);
    }
    case LayerKind::ClassToken: {
      // class_token.expand(N, -1, -1): the shape [N, 1, D] from the image's batch.
      node("Shape", {"image"}, n + "_image_shape");
      node("Gather", {n + "_image_shape", int64s(n + "_batch_index", {1}, {0})}, n + "_batch");
      attr(node("Concat", {n + "_batch", int64s(n + "_row", {2}, {1, s.c})}, n + "_expand_shape"), "axis",
           int64_t{0});
      auto& cat = node("Concat", {constant(i, {1, 1, s.c}, n + "_expand_shape"), in[0]}, n + "_concat");
      attr(cat, "axis", int64_t{1});
      return finish(i, cat.output(0), own);
    }
    case LayerKind::PosEmbed:
      return finish(i, node("Add", {in[0], constant(i, {1, s.h, s.c})}, n + "_add").output(0), own);
    case LayerKind::LayerNorm: {
      auto& ln =
          node("LayerNormalization",
               {in[0], floats(n + ".gamma", {s.c}, d.gamma), floats(n + ".beta", {s.c}, d.beta)}, n + "_ln");
      attr(ln, "axis", int64_t{-1});
      attr(ln, "epsilon", static_cast<float>(models::kLayerNormEps));
      return finish(i, ln.output(0), own);
    }
    case LayerKind::Gelu: {  // x * 0.5 * (1 + erf(x / sqrt(2))), as torch.onnx writes nn.GELU()
      node("Div", {in[0], floats(n + "_sqrt2", {}, std::vector<float>{std::sqrt(2.0f)})}, n + "_div");
      node("Erf", {n + "_div"}, n + "_erf");
      node("Add", {n + "_erf", floats(n + "_one", {}, std::vector<float>{1.0f})}, n + "_1p");
      node("Mul", {in[0], n + "_1p"}, n + "_x1p");
      return finish(
          i,
          node("Mul", {n + "_x1p", floats(n + "_half", {}, std::vector<float>{0.5f})}, n + "_gelu").output(0),
          own);
    }
    case LayerKind::Attention: {
      const int64_t h = l.heads, hd = s.c / h;
      const std::string shape = int64s(n + "_heads_shape", {4}, {0, 0, h, hd});
      const char* names[3] = {"_q", "_k", "_v"};
      std::string heads[3];
      for (size_t k = 0; k < 3; ++k) {
        const std::string t = n + names[k];
        node("Reshape", {in[k], shape}, t + "_4d");
        attr(node("Transpose", {t + "_4d"}, t + "_heads"), "perm",
             k == 1 ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3});
        heads[k] = t + "_heads";
      }
      // Each MatMul / Softmax output on its grid (or named alike in the FP32 export).
      // The layer's own grid (after P*V) takes the layer's name as its prefix, as finish() names it.
      auto point = [&](const std::string& y, const std::string& name, const QuantParams* grid) {
        const std::string prefix = grid == own ? n : name;
        if (grid) return quant_dequant(clip_to(y, prefix, *grid), prefix, name, *grid);
        auto* last = g->mutable_node(g->node_size() - 1);  // FP32: the op's output takes the name
        last->set_output(0, name);
        last->set_name(name);
        return name;
      };
      const bool q = m_.quantized;
      std::string t = point(node("MatMul", {heads[0], heads[1]}, n + "_scores_mm").output(0), n + "_scores",
                            q ? &d.inner[0] : nullptr);
      auto& sm = node("Softmax", {t}, n + "_probs_sm");
      attr(sm, "axis", int64_t{-1});
      t = point(sm.output(0), n + "_probs", q ? &d.inner[1] : nullptr);
      t = point(node("MatMul", {t, heads[2]}, n + "_ctx_mm").output(0), n + "_ctx", own);
      attr(node("Transpose", {t}, n + "_ctx_t"), "perm", std::vector<int64_t>{0, 2, 1, 3});
      node("Reshape", {n + "_ctx_t", int64s(n + "_merge_shape", {3}, {0, 0, s.c})}, n);
      return finish(i, n, nullptr);
    }
    default: fail(i, "not a layer the exporter knows");
  }
}

}  // namespace tpusim::qat::export_detail
