// A ModelSpec as a libtorch module: the FP32 network that training starts from. Each Conv/Linear
// layer is a child module named after the layer holding its weight, its bias (layers without
// BN) and its BatchNorm parameters and running statistics, so checkpoints are keyed by layer name
// and the QAT network (qat/qnet.h) can read the same parameters and fold BN into the weights.
#pragma once
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "models/model_spec.h"

namespace tpusim::models {

class LayerParamsImpl : public torch::nn::Module {
 public:
  // `out`: the layer's output shape; `transformer`: a transformer's initialisation (Linear weights
  // N(0, 1/fan_in) instead of He's 2/fan_in for ReLU networks).
  LayerParamsImpl(const Layer& l, int64_t fan_in, const ModelSpec::Shape& out, bool transformer);
  // Conv/Linear: the weight, bias undefined when the layer has BN. ClassToken: the token [1, 1, D];
  // PosEmbed: the embedding [1, T, D] (weight only).
  torch::Tensor weight, bias;
  // BatchNorm (undefined without): gamma, beta, running mean and variance. LayerNorm: gamma, beta.
  torch::Tensor gamma, beta, running_mean, running_var;
  static constexpr double kBnEps = 1e-5, kBnMomentum = 0.1, kLnEps = kLayerNormEps;
};
TORCH_MODULE(LayerParams);

class NetImpl : public torch::nn::Module {
 public:
  explicit NetImpl(ModelSpec spec);
  // FP32 forward: BN uses batch statistics (and updates the running ones) in training mode, the
  // running statistics in eval mode.
  torch::Tensor forward(const torch::Tensor& image);

  const ModelSpec& spec() const { return spec_; }
  // The parameters of Conv/Linear layer i (undefined module for other layers).
  LayerParams params(size_t i) const { return params_[i]; }
  // y = BatchNorm(x) of layer i with its parameters (batch statistics when `batch_stats`).
  torch::Tensor batchnorm(size_t i, const torch::Tensor& x, bool batch_stats) const;
  // BN folded into the weights with the running statistics (Krishnamoorthi 2018, eq. 8):
  // sf = gamma / sqrt(var + eps), w' = w * sf, b' = (b - mean) * sf + beta. Layers without BN
  // return (w, b) (b = zeros if absent). Differentiable in w, gamma and beta.
  std::pair<torch::Tensor, torch::Tensor> folded(size_t i) const;
  // sf of layer i (BN layers only).
  torch::Tensor bn_scale(size_t i) const;

  // One layer's float op on already-computed inputs, given the weight and bias to use (the
  // shared geometry of the FP32 and fake-quant forwards). Conv/Linear only: no BN, no activation.
  torch::Tensor linear_op(size_t i, const torch::Tensor& x, const torch::Tensor& w,
                          const torch::Tensor& b) const;
  // Every other layer's float op (no activation): MaxPool, GlobalAvgPool, Add, Flatten and the
  // transformer layers (ClassToken/PosEmbed with their own parameter, LayerNorm, softmax attention).
  torch::Tensor shape_op(size_t i, const std::vector<torch::Tensor>& in) const;
  // ClassToken / PosEmbed of layer i with the given constant (the parameter, or it quantized).
  torch::Tensor embed_op(size_t i, const torch::Tensor& x, const torch::Tensor& constant) const;
  torch::Tensor layer_norm(size_t i, const torch::Tensor& x) const;
  // [N, T, D] <-> [N, heads, T, D / heads].
  static torch::Tensor split_heads(const torch::Tensor& x, int64_t heads);
  static torch::Tensor merge_heads(const torch::Tensor& x);

 private:
  ModelSpec spec_;
  std::vector<LayerParams> params_;
};
TORCH_MODULE(Net);

}  // namespace tpusim::models
