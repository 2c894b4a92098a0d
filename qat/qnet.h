// The fake-quant network: a models::Net with a quantizer on every tensor the integer graph
// quantizes, placed where the compiler puts requantization (docs/design.md, "Who owns the numerics":
// int32 bias at s_in*s_w, requant after each conv/FC/add/average pool, ReLU folded into the clamp,
// max pool and flatten keep their input's grid, the image on the exact uint8 pixel grid 1/255). So
// fake-quant accuracy predicts what the integer reference and the simulator compute.
// Transformer layers (qnet_transformer.cpp): LayerNorm and the attention's softmax compute the
// machine's integer algorithm in the forward (qat/fake_quant_transformer.h); Q*K^T, the softmax
// and P*V each have their own grid; K and V are symmetric (the MAC array reads them as weights);
// the class token and position embedding are per-tensor constants on their own range.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/net.h"
#include "qat/deploy_model.h"
#include "qat/quantizer.h"

namespace tpusim::qat {

class QuantNetImpl : public torch::nn::Module {
 public:
  QuantNetImpl(models::Net net, const QuantConfig& config);
  torch::Tensor forward(const torch::Tensor& image);

  void set_mode(QuantMode m);  // every quantizer (weights: Observe acts as Off)
  // BN folding (Krishnamoorthi 2018). Unfrozen, in training: the weights are quantized folded with
  // the running statistics, the conv output is unscaled by sf and batch-normalised with batch
  // statistics (which update the running ones). Frozen, or in eval mode: y = conv(x, Q(w*sf)) +
  // Q(b') with the running statistics, exactly the exported network.
  void freeze_bn(bool frozen) { bn_frozen_ = frozen; }
  bool bn_frozen() const { return bn_frozen_; }
  // PACT's L2 decay summed over the activation quantizers.
  torch::Tensor regularizer(double lambda) const;

  models::Net net() const { return net_; }
  const QuantConfig& config() const { return config_; }
  // Activation quantizers in layer order (the image first), for PTQ calibration and reports.
  std::vector<ActQuantizer> act_quantizers() const;
  // The quantizer of layer i's output (the one it shares with its input for max pool/flatten).
  ActQuantizer out_quantizer(int layer) const;
  WeightQuantizer weight_quantizer(size_t layer) const { return wq_[layer]; }

  // The network as the exporter wants it (BN folded, weights on their grids, output params).
  DeployModel deploy();

 private:
  std::pair<torch::Tensor, torch::Tensor> weight_and_bias(size_t i, const torch::Tensor& in_scale, bool fold);
  // Layer i's weight on its grid (folded with the running statistics when `fold`, else the
  // training-time fold) and its per-channel scales; `grad`: through the quantizer's gradient.
  std::pair<torch::Tensor, std::vector<float>> quantized_weight(size_t i, bool fold, bool grad);
  bool dorefa_then_fold(size_t i) const;
  torch::Tensor channel_view(size_t i, const torch::Tensor& v) const;
  // Transformer layers: ClassToken/PosEmbed (their constant quantized), LayerNorm, Attention.
  torch::Tensor transformer_op(size_t i, const std::vector<torch::Tensor>& in);
  // The class token / position embedding of layer i on its per-tensor grid (min/max of its own
  // values, as the compiler's calibrator quantizes such constants), straight-through gradient.
  std::pair<torch::Tensor, QuantParams> quantized_constant(size_t i) const;
  // y = the fake-quantized float op's value replaced by the integer op's when both grids are set.
  torch::Tensor integer_value(const torch::Tensor& fq, const std::function<torch::Tensor()>& int_op) const;
  void add_transformer_quantizers(const std::vector<int>& act_bits);
  void deploy_transformer(size_t i, DeployLayer& d);
  models::Net net_;
  QuantConfig config_;
  std::vector<int> act_bits_;                     // per layer
  std::vector<ActQuantizer> scores_q_, probs_q_;  // per Attention layer: Q*K^T and softmax grids
  bool bn_frozen_ = false;
  ActQuantizer image_q_{nullptr};
  std::vector<ActQuantizer> aq_;     // per layer; null for max pool / flatten
  std::vector<WeightQuantizer> wq_;  // per layer; null unless Conv/Linear
  std::vector<int> source_;          // per layer: the layer whose quantizer holds its grid (-1 image)
};
TORCH_MODULE(QuantNet);

// The FP32 network (BN folded with its running statistics) for FP32 export.
DeployModel deploy_fp32(models::Net& net);

// A tensor's values, flattened to float (DeployModel's vectors).
std::vector<float> to_vector(const torch::Tensor& t);

}  // namespace tpusim::qat
