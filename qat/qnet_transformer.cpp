// The transformer layers of the fake-quant network (qnet.h): constants on their own grid, and
// LayerNorm and softmax whose forward value is the machine's integer algorithm.
#include <fmt/format.h>

#include "base/error.h"
#include "qat/fake_quant.h"
#include "qat/fake_quant_transformer.h"
#include "qat/qnet.h"

namespace tpusim::qat {

using models::Layer;
using models::LayerKind;

namespace {

// The integer ops take 8- and 4-bit grids; narrower ones stay float (then only the fake-quant).
bool integer_grid(const ActQuantizer& q) {
  return q && q->mode() == QuantMode::Quantize && q->initialized() &&
         (q->spec().bits == 8 || q->spec().bits == 4);
}

Grid grid_of(const ActQuantizer& q) {
  const QuantParams p = q->params();
  return Grid{p.scale, p.zero_point, p.spec.storage()};
}

}  // namespace

void QuantNetImpl::add_transformer_quantizers(const std::vector<int>& act_bits) {
  const models::ModelSpec& spec = net_->spec();
  act_bits_ = act_bits;
  // A grid narrower than its 4-bit container needs a Clip before its QuantizeLinear, which the
  // compiler does not take after a Concat or inside the attention; 8- and 4-bit only.
  if (spec.transformer())
    for (size_t i = 0; i < spec.layers.size(); ++i)
      if (aq_[i] && act_bits[i] != 8 && act_bits[i] != 4)
        throw Error(
            fmt::format("model '{}': {}-bit activations at layer '{}': a transformer's activations "
                        "are 8- or 4-bit (its softmax, LayerNorm and class-token grids)",
                        spec.name, act_bits[i], spec.layers[i].name));
  scores_q_.assign(spec.layers.size(), nullptr);
  probs_q_.assign(spec.layers.size(), nullptr);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const Layer& l = spec.layers[i];
    if (l.kind != LayerKind::Attention) continue;
    const int bits = act_bits[i];
    scores_q_[i] = register_module(
        l.name + "_scores_aq",
        ActQuantizer(l.name + "_scores", config_.algo, QuantSpec{bits, true, false}, config_.observer));
    // PACT's learned clip and DoReFa's [0, 1] grid are for ReLU outputs; the softmax's range is
    // known, so its grid follows the range (EMA) with those two.
    const Algo probs_algo =
        config_.algo == Algo::Pact || config_.algo == Algo::Dorefa ? Algo::Ema : config_.algo;
    probs_q_[i] = register_module(
        l.name + "_probs_aq",
        ActQuantizer(l.name + "_probs", probs_algo, QuantSpec{bits, false, false}, config_.observer));
  }
}

std::pair<torch::Tensor, QuantParams> QuantNetImpl::quantized_constant(size_t i) const {
  const torch::Tensor c = net_->params(i)->weight;
  const torch::Tensor d = c.detach();
  const double lo = d.min().item<double>(), hi = d.max().item<double>();
  const bool unsig = lo >= 0;
  const QuantSpec spec{act_bits_[i], !unsig, false};
  const QuantParams p = params_from_range(lo, hi, spec, unsig);
  const auto opts = c.options().requires_grad(false);
  const torch::Tensor v = fake_quant_ste(c, torch::full({1}, p.scale, opts),
                                         torch::full({1}, p.zero_point, opts), spec.qmin(), spec.qmax());
  return {v, p};
}

torch::Tensor QuantNetImpl::integer_value(const torch::Tensor& fq,
                                          const std::function<torch::Tensor()>& int_op) const {
  torch::Tensor v;
  {
    torch::NoGradGuard no_grad;
    v = int_op();
  }
  return fq + (v - fq).detach();
}

torch::Tensor QuantNetImpl::transformer_op(size_t i, const std::vector<torch::Tensor>& in) {
  const Layer& l = net_->spec().layers[i];
  ActQuantizer out = aq_[i];
  const bool quantizing = out->mode() == QuantMode::Quantize;
  switch (l.kind) {
    case LayerKind::ClassToken:
    case LayerKind::PosEmbed:
      return out->forward(
          net_->embed_op(i, in[0], quantizing ? quantized_constant(i).first : net_->params(i)->weight));
    case LayerKind::LayerNorm: {
      const torch::Tensor fq = out->forward(net_->layer_norm(i, in[0]));
      const ActQuantizer src = out_quantizer(l.inputs[0]);
      if (!integer_grid(src) || !integer_grid(out)) return fq;
      const models::LayerParams& p = net_->params(i);
      return integer_value(fq, [&] {
        return int_layernorm(in[0], p->gamma, p->beta, models::LayerParamsImpl::kLnEps, grid_of(src),
                             grid_of(out));
      });
    }
    case LayerKind::Attention: {
      const int64_t h = l.heads;
      const torch::Tensor s = scores_q_[i]->forward(torch::matmul(
          models::NetImpl::split_heads(in[0], h), models::NetImpl::split_heads(in[1], h).transpose(-2, -1)));
      torch::Tensor p = probs_q_[i]->forward(torch::softmax(s, -1));
      if (integer_grid(scores_q_[i]) && integer_grid(probs_q_[i]))
        p = integer_value(p, [&] { return int_softmax(s, grid_of(scores_q_[i]), grid_of(probs_q_[i])); });
      return out->forward(
          models::NetImpl::merge_heads(torch::matmul(p, models::NetImpl::split_heads(in[2], h))));
    }
    default: throw Error(fmt::format("layer '{}' is not a transformer layer", l.name));
  }
}

void QuantNetImpl::deploy_transformer(size_t i, DeployLayer& d) {
  const Layer& l = net_->spec().layers[i];
  if (l.kind == LayerKind::LayerNorm) {
    d.gamma = to_vector(net_->params(i)->gamma);
    d.beta = to_vector(net_->params(i)->beta);
  } else if (l.kind == LayerKind::ClassToken || l.kind == LayerKind::PosEmbed) {
    auto [v, p] = quantized_constant(i);
    d.weight = to_vector(v);
    d.constant = p;
  } else if (l.kind == LayerKind::Attention) {
    d.inner = {scores_q_[i]->params(), probs_q_[i]->params()};
  }
}

}  // namespace tpusim::qat
