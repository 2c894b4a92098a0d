#include "models/net.h"

#include <cmath>

namespace tpusim::models {

LayerParamsImpl::LayerParamsImpl(const Layer& l, int64_t fan_in, const ModelSpec::Shape& out,
                                 bool transformer) {
  if (l.kind == LayerKind::LayerNorm) {
    gamma = register_parameter("gamma", torch::ones({out.c}));
    beta = register_parameter("beta", torch::zeros({out.c}));
    return;
  }
  if (l.kind == LayerKind::ClassToken || l.kind == LayerKind::PosEmbed) {
    // N(0, 0.5): a class token of the residual stream's size (ViT's 0.02 would sit below the
    // first grids' resolution until training grows it).
    const int64_t rows = l.kind == LayerKind::ClassToken ? 1 : out.h;
    weight = register_parameter("weight", torch::randn({1, rows, out.c}) * (rows == 1 ? 0.5 : 0.02));
    return;
  }
  const bool conv = l.kind == LayerKind::Conv;
  std::vector<int64_t> shape{l.out_ch, l.in_ch};
  if (conv) shape = {l.out_ch, l.in_ch / l.groups, l.kernel, l.kernel};
  // He initialisation for ReLU networks (He et al. 2015), drawn from the global seeded generator.
  const double gain = transformer && !conv ? 1.0 : 2.0;
  weight = register_parameter("weight", torch::randn(shape) * std::sqrt(gain / static_cast<double>(fan_in)));
  if (l.batchnorm) {
    gamma = register_parameter("gamma", torch::ones({l.out_ch}));
    beta = register_parameter("beta", torch::zeros({l.out_ch}));
    running_mean = register_buffer("running_mean", torch::zeros({l.out_ch}));
    running_var = register_buffer("running_var", torch::ones({l.out_ch}));
  } else {
    bias = register_parameter("bias", torch::zeros({l.out_ch}));
  }
}

NetImpl::NetImpl(ModelSpec spec) : spec_(std::move(spec)) {
  const std::vector<ModelSpec::Shape> shapes = spec_.shapes();  // validates
  params_.resize(spec_.layers.size(), nullptr);
  for (size_t i = 0; i < spec_.layers.size(); ++i) {
    const Layer& l = spec_.layers[i];
    if (l.kind != LayerKind::Conv && l.kind != LayerKind::Linear && l.kind != LayerKind::LayerNorm &&
        l.kind != LayerKind::ClassToken && l.kind != LayerKind::PosEmbed)
      continue;
    const int64_t fan_in = l.kind == LayerKind::Conv ? l.in_ch / l.groups * l.kernel * l.kernel : l.in_ch;
    params_[i] = register_module(l.name, LayerParams(l, fan_in, shapes[i], spec_.transformer()));
  }
}

torch::Tensor NetImpl::batchnorm(size_t i, const torch::Tensor& x, bool batch_stats) const {
  const LayerParams& p = params_[i];
  return torch::batch_norm(x, p->gamma, p->beta, p->running_mean, p->running_var, batch_stats,
                           LayerParamsImpl::kBnMomentum, LayerParamsImpl::kBnEps, false);
}

torch::Tensor NetImpl::bn_scale(size_t i) const {
  const LayerParams& p = params_[i];
  return p->gamma / torch::sqrt(p->running_var + LayerParamsImpl::kBnEps);
}

std::pair<torch::Tensor, torch::Tensor> NetImpl::folded(size_t i) const {
  const LayerParams& p = params_[i];
  torch::Tensor b = p->bias.defined() ? p->bias : torch::zeros({p->weight.size(0)});
  const double s = spec_.layers[i].out_scale;
  if (!p->gamma.defined()) return s == 1.0 ? std::pair{p->weight, b} : std::pair{p->weight * s, b * s};
  const torch::Tensor sf = bn_scale(i);
  std::vector<int64_t> view(static_cast<size_t>(p->weight.dim()), 1);
  view[0] = -1;
  return {p->weight * sf.view(view), (b - p->running_mean) * sf + p->beta};
}

torch::Tensor NetImpl::linear_op(size_t i, const torch::Tensor& x, const torch::Tensor& w,
                                 const torch::Tensor& b) const {
  const Layer& l = spec_.layers[i];
  if (l.kind == LayerKind::Linear) return torch::linear(x, w, b);
  return torch::conv2d(x, w, b, {l.stride, l.stride}, {l.pad, l.pad}, {1, 1}, l.groups);
}

torch::Tensor NetImpl::shape_op(size_t i, const std::vector<torch::Tensor>& in) const {
  const Layer& l = spec_.layers[i];
  switch (l.kind) {
    case LayerKind::MaxPool: return torch::max_pool2d(in[0], {l.pool, l.pool}, {l.pool, l.pool});
    case LayerKind::GlobalAvgPool: return torch::adaptive_avg_pool2d(in[0], {1, 1});
    case LayerKind::Add: return in[0] + in[1];
    case LayerKind::Flatten: return in[0].flatten(1);
    case LayerKind::Tokens: return in[0].flatten(2).transpose(1, 2);
    case LayerKind::ClassToken:
    case LayerKind::PosEmbed: return embed_op(i, in[0], params_[i]->weight);
    case LayerKind::LayerNorm: return layer_norm(i, in[0]);
    case LayerKind::Gelu: return torch::gelu(in[0]);
    case LayerKind::Attention: {
      const torch::Tensor s =
          torch::matmul(split_heads(in[0], l.heads), split_heads(in[1], l.heads).transpose(-2, -1));
      return merge_heads(torch::matmul(torch::softmax(s, -1), split_heads(in[2], l.heads)));
    }
    case LayerKind::ClassSelect: return in[0].select(1, 0);
    default: return in[0];
  }
}

torch::Tensor NetImpl::embed_op(size_t i, const torch::Tensor& x, const torch::Tensor& constant) const {
  if (spec_.layers[i].kind == LayerKind::PosEmbed) return x + constant;
  return torch::cat({constant.expand({x.size(0), 1, x.size(2)}), x}, 1);
}

torch::Tensor NetImpl::layer_norm(size_t i, const torch::Tensor& x) const {
  const LayerParams& p = params_[i];
  return torch::layer_norm(x, {x.size(-1)}, p->gamma, p->beta, LayerParamsImpl::kLnEps, false);
}

torch::Tensor NetImpl::split_heads(const torch::Tensor& x, int64_t heads) {
  return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

torch::Tensor NetImpl::merge_heads(const torch::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

torch::Tensor NetImpl::forward(const torch::Tensor& image) {
  std::vector<torch::Tensor> out;
  out.reserve(spec_.layers.size());
  for (size_t i = 0; i < spec_.layers.size(); ++i) {
    const Layer& l = spec_.layers[i];
    std::vector<torch::Tensor> in;
    for (int j : l.inputs) in.push_back(j == kImage ? image : out[static_cast<size_t>(j)]);
    torch::Tensor y;
    if (l.kind == LayerKind::Conv || l.kind == LayerKind::Linear) {
      const LayerParams& p = params_[i];
      if (l.batchnorm) {
        y = batchnorm(i, linear_op(i, in[0], p->weight, p->bias), is_training());
      } else {
        const auto [w, b] = folded(i);  // with the layer's out_scale
        y = linear_op(i, in[0], w, b);
      }
    } else {
      y = shape_op(i, in);
    }
    if (l.act == Activation::Relu) y = torch::relu(y);
    out.push_back(y);
  }
  return out.back();
}

}  // namespace tpusim::models
