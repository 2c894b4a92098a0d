#include "qat/qnet.h"

#include <fmt/format.h>

#include <regex>

#include "base/error.h"

namespace tpusim::qat {

using models::Activation;
using models::kImage;
using models::Layer;
using models::LayerKind;

namespace {

constexpr double kMinBnScale = 1e-4;

bool has_weights(const Layer& l) { return l.kind == LayerKind::Conv || l.kind == LayerKind::Linear; }
bool is_transformer_op(const Layer& l) {
  return l.kind == LayerKind::ClassToken || l.kind == LayerKind::PosEmbed || l.kind == LayerKind::LayerNorm ||
         l.kind == LayerKind::Attention;
}
bool requantizes(const Layer& l) {
  return has_weights(l) || l.kind == LayerKind::Add || l.kind == LayerKind::GlobalAvgPool ||
         l.kind == LayerKind::LayerNorm || l.kind == LayerKind::Gelu || l.kind == LayerKind::Attention ||
         l.kind == LayerKind::ClassToken || l.kind == LayerKind::PosEmbed;
}

}  // namespace

std::vector<float> to_vector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kFloat32).contiguous().flatten();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

QuantNetImpl::QuantNetImpl(models::Net net, const QuantConfig& config)
    : net_(std::move(net)), config_(config) {
  register_module("net", net_);
  const models::ModelSpec& spec = net_->spec();
  const size_t n = spec.layers.size();
  image_q_ = register_module("image_q", ActQuantizer("image", Algo::Fixed, QuantSpec{8, false, false}));
  image_q_->set_params(QuantParams{1.0f / 255.0f, 0, QuantSpec{8, false, false}});

  // Grid of every layer's output: unsigned after ReLU (and through pools/flatten of such), else signed.
  std::vector<bool> nonneg(n);
  std::vector<int> act_bits(n, config.bits.act), w_bits(n, config.bits.weight);
  source_.assign(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = spec.layers[i];
    const int in = l.inputs[0];
    if (requantizes(l)) {
      nonneg[i] =
          l.act == Activation::Relu || (l.kind == LayerKind::GlobalAvgPool && (in == kImage || nonneg[in]));
      source_[i] = static_cast<int>(i);
    } else {
      nonneg[i] = l.act == Activation::Relu || in == kImage || nonneg[in];
      source_[i] = in == kImage ? -1 : source_[in];
    }
  }
  const std::vector<int> wl = spec.weight_layers();
  if (config.first_layer_bits > 0) w_bits[wl.front()] = config.first_layer_bits;
  if (config.last_layer_bits > 0) {
    w_bits[wl.back()] = config.last_layer_bits;
    const int feed = spec.layers[wl.back()].inputs[0];
    if (feed != kImage && source_[feed] >= 0) act_bits[source_[feed]] = config.last_layer_bits;
  }
  for (const auto& [name, bits] : config.layers) {
    auto it =
        std::find_if(spec.layers.begin(), spec.layers.end(), [&](const Layer& l) { return l.name == name; });
    if (it == spec.layers.end())
      throw Error(fmt::format("bits override for unknown layer '{}' (model {})", name, spec.name));
    const auto i = static_cast<size_t>(it - spec.layers.begin());
    w_bits[i] = bits.weight;
    act_bits[i] = bits.act;
  }
  act_bits[n - 1] = config.output_bits;
  // Attention's K and V are read by the MAC array as weights: symmetric grids.
  std::vector<bool> symmetric(n);
  for (const Layer& l : spec.layers)
    if (l.kind == LayerKind::Attention)
      for (size_t k = 1; k < 3; ++k)
        if (l.inputs[k] >= 0 && source_[l.inputs[k]] >= 0) symmetric[source_[l.inputs[k]]] = true;

  aq_.assign(n, nullptr);
  wq_.assign(n, nullptr);
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = spec.layers[i];
    if (requantizes(l))
      aq_[i] = register_module(l.name + "_aq",
                               ActQuantizer(l.name, config.algo, QuantSpec{act_bits[i], !nonneg[i], false},
                                            config.observer, symmetric[i]));
    if (has_weights(l)) {
      // DoReFa's tanh normalisation drops the weight's scale, which only a following BN restores.
      const Algo a = config.algo == Algo::Dorefa && !l.batchnorm ? Algo::Ema : config.algo;
      wq_[i] = register_module(l.name + "_wq",
                               WeightQuantizer(l.name + ".weight", a,
                                               QuantSpec{w_bits[i], true, config.narrow_weights}, l.out_ch));
    }
  }
  add_transformer_quantizers(act_bits);
}

void QuantNetImpl::set_mode(QuantMode m) {
  image_q_->set_mode(m == QuantMode::Observe ? QuantMode::Off : m);
  for (auto& q : aq_)
    if (q) q->set_mode(m);
  for (auto* v : {&scores_q_, &probs_q_})
    for (auto& q : *v)
      if (q) q->set_mode(m);
  for (auto& q : wq_)
    if (q) q->set_mode(m == QuantMode::Observe ? QuantMode::Off : m);
}

ActQuantizer QuantNetImpl::out_quantizer(int layer) const {
  if (layer == kImage || source_[static_cast<size_t>(layer)] < 0) return image_q_;
  return aq_[static_cast<size_t>(source_[static_cast<size_t>(layer)])];
}

std::vector<ActQuantizer> QuantNetImpl::act_quantizers() const {
  std::vector<ActQuantizer> v{image_q_};
  for (size_t i = 0; i < aq_.size(); ++i)
    for (const ActQuantizer& q : {scores_q_[i], probs_q_[i], aq_[i]})
      if (q) v.push_back(q);
  return v;
}

torch::Tensor QuantNetImpl::regularizer(double lambda) const {
  torch::Tensor r = torch::zeros({});
  for (const auto& q : aq_)
    if (q) r = r + q->regularizer(lambda);
  return r;
}

// The folded weight and bias on their grids: bias in int32 units of s_in * s_w[c] (the float32
// product, as the exporter and the compiler form it), with a straight-through gradient.
// DoReFa normalises the weight it is given, which would cancel BN's per-channel scale sf and
// make sf feed back on itself through the running variance (sf = gamma / std(conv / sf)); so
// DoReFa quantizes the raw weight and sf multiplies the result: channel c's grid scale is
// |sf_c| / qmax (the sign goes into the integers).
bool QuantNetImpl::dorefa_then_fold(size_t i) const {
  return wq_[i]->algo() == Algo::Dorefa && net_->spec().layers[i].batchnorm;
}

torch::Tensor QuantNetImpl::channel_view(size_t i, const torch::Tensor& v) const {
  return net_->spec().layers[i].kind == LayerKind::Conv ? v.view({-1, 1, 1, 1}) : v.view({-1, 1});
}

std::pair<torch::Tensor, std::vector<float>> QuantNetImpl::quantized_weight(size_t i, bool fold, bool grad) {
  if (dorefa_then_fold(i)) {
    const torch::Tensor sf = net_->bn_scale(i);
    const torch::Tensor w = grad ? wq_[i]->forward(net_->params(i)->weight)
                                 : wq_[i]->quantize(net_->params(i)->weight.detach()).values;
    const torch::Tensor scale = sf.detach().abs() * (1.0f / static_cast<float>(wq_[i]->spec().qmax()));
    return {w * channel_view(i, sf), to_vector(scale)};
  }
  torch::Tensor w =
      fold ? net_->folded(i).first : net_->params(i)->weight * channel_view(i, net_->bn_scale(i));
  if (!grad) {
    auto q = wq_[i]->quantize(w.detach());
    return {q.values, std::move(q.scales)};
  }
  const bool quantizing = wq_[i]->mode() == QuantMode::Quantize;
  const torch::Tensor wq = wq_[i]->forward(w);
  return {wq, quantizing ? wq_[i]->quantize(w.detach()).scales : std::vector<float>{}};
}

// The folded weight and bias on their grids: bias in int32 units of s_in * s_w[c] (the float32
// product, as the exporter and the compiler form it), with a straight-through gradient.
std::pair<torch::Tensor, torch::Tensor> QuantNetImpl::weight_and_bias(size_t i, const torch::Tensor& in_scale,
                                                                      bool fold) {
  const torch::Tensor b = net_->folded(i).second;
  auto [wq, scales] = quantized_weight(i, fold || !net_->spec().layers[i].batchnorm, true);
  if (wq_[i]->mode() != QuantMode::Quantize || !in_scale.defined()) return {wq, b};
  const torch::Tensor s = torch::tensor(scales) * in_scale;  // float32 product per channel
  const torch::Tensor bq = torch::round(b.detach() / s) * s;
  return {wq, b + (bq - b).detach()};
}

torch::Tensor QuantNetImpl::forward(const torch::Tensor& image) {
  const models::ModelSpec& spec = net_->spec();
  std::vector<torch::Tensor> out;
  out.reserve(spec.layers.size());
  const torch::Tensor x0 = image_q_->forward(image);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const Layer& l = spec.layers[i];
    std::vector<torch::Tensor> in;
    for (int j : l.inputs) in.push_back(j == kImage ? x0 : out[static_cast<size_t>(j)]);
    torch::Tensor y;
    if (has_weights(l)) {
      const ActQuantizer src = out_quantizer(l.inputs[0]);
      torch::Tensor in_scale;
      if (src->mode() == QuantMode::Quantize) in_scale = torch::tensor(src->params().scale);
      const bool fold = !l.batchnorm || bn_frozen_ || !is_training();
      auto [w, b] = weight_and_bias(i, in_scale, fold);
      if (fold) {
        y = net_->linear_op(i, in[0], w, b);
      } else {
        // Unscale by sf so BN sees the unfolded conv output and normalises with batch statistics.
        // |sf| is kept away from 0: a BN scale crossing zero (DoReFa's normalised weights leave
        // gamma free to) would otherwise divide by zero.
        const torch::Tensor raw = net_->bn_scale(i);
        const torch::Tensor sf =
            torch::where(raw.abs() < kMinBnScale, torch::where(raw < 0, -kMinBnScale, kMinBnScale), raw);
        y = net_->linear_op(i, in[0], w, {});
        y = y / (y.dim() == 4 ? sf.view({1, -1, 1, 1}) : sf.view({1, -1}));
        y = net_->batchnorm(i, y, true);
      }
    } else if (is_transformer_op(l)) {
      out.push_back(transformer_op(i, in));  // quantized onto its output grid
      continue;
    } else {
      y = net_->shape_op(i, in);
    }
    if (l.act == Activation::Relu) y = torch::relu(y);
    if (aq_[i]) y = aq_[i]->forward(y);
    out.push_back(y);
  }
  return out.back();
}

DeployModel QuantNetImpl::deploy() {
  torch::NoGradGuard no_grad;
  DeployModel d;
  d.spec = net_->spec();
  d.quantized = true;
  d.input = image_q_->params();
  d.layers.resize(d.spec.layers.size());
  for (size_t i = 0; i < d.spec.layers.size(); ++i) {
    DeployLayer& dl = d.layers[i];
    if (wq_[i]) {
      const torch::Tensor b = net_->folded(i).second;
      auto [values, scales] = quantized_weight(i, true, false);
      dl.weight = to_vector(values);
      dl.w_scale = std::move(scales);
      dl.w_spec = wq_[i]->spec();
      dl.bias = to_vector(b);
    }
    if (aq_[i]) {
      dl.has_out = true;
      dl.out = aq_[i]->params();
    }
    deploy_transformer(i, dl);
  }
  return d;
}

DeployModel deploy_fp32(models::Net& net) {
  torch::NoGradGuard no_grad;
  DeployModel d;
  d.spec = net->spec();
  d.layers.resize(d.spec.layers.size());
  for (size_t i = 0; i < d.spec.layers.size(); ++i) {
    const Layer& l = d.spec.layers[i];
    if (l.kind == LayerKind::LayerNorm) {
      d.layers[i].gamma = to_vector(net->params(i)->gamma);
      d.layers[i].beta = to_vector(net->params(i)->beta);
    }
    if (l.kind == LayerKind::ClassToken || l.kind == LayerKind::PosEmbed)
      d.layers[i].weight = to_vector(net->params(i)->weight);
    if (l.kind != LayerKind::Conv && l.kind != LayerKind::Linear) continue;
    const auto [w, b] = net->folded(i);
    d.layers[i].weight = to_vector(w);
    d.layers[i].bias = to_vector(b);
  }
  return d;
}

}  // namespace tpusim::qat
