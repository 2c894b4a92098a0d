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
  LayerParamsImpl(const Layer& l, int64_t fan_in);
  torch::Tensor weight, bias;  // bias undefined when the layer has BN
  // BatchNorm (undefined without): gamma, beta, running mean and variance.
  torch::Tensor gamma, beta, running_mean, running_var;
  static constexpr double kBnEps = 1e-5, kBnMomentum = 0.1;
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
  // MaxPool, GlobalAvgPool, Add, Flatten (no activation).
  torch::Tensor shape_op(size_t i, const std::vector<torch::Tensor>& in) const;

 private:
  ModelSpec spec_;
  std::vector<LayerParams> params_;
};
TORCH_MODULE(Net);

}  // namespace tpusim::models
