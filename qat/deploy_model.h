// What the QAT toolchain hands to the ONNX exporter: the model spec plus, per layer, the folded
// float parameters and (for a quantized model) the quantization parameters chosen by PTQ or
// learned by QAT. Plain data, no libtorch, so the exporter and its tests do not need a training
// run. The exporter writes exactly these numbers: weights are already on their integer grid
// (w = q * w_scale[c], |q| <= qmax) and biases are float (the exporter writes them as int32 at
// s_in * s_w[c]).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/model_spec.h"
#include "quant/calibration.h"

namespace tpusim::qat {

struct DeployLayer {
  // Conv/Linear: BN already folded. Conv weight [out, in/groups, k, k]; Linear [out, in] (C order).
  std::vector<float> weight;
  std::vector<float> bias;  // [out]; empty = no bias
  // Quantized models only.
  std::vector<float> w_scale;  // per output channel (a per-tensor scale repeated)
  QuantSpec w_spec;            // signed, 2..8 bits, narrow or full
  // The layer's output activation grid (Conv/Linear after the activation, GlobalAvgPool, Add).
  // MaxPool and Flatten keep their input's parameters and leave this unset.
  bool has_out = false;
  QuantParams out;
  // ClassToken / PosEmbed: `weight` holds the constant ([1, 1, D] / [1, T, D]); quantized models
  // put it on this per-tensor grid. LayerNorm: gamma and beta [D]. Attention (quantized): the
  // grids of Q*K^T and of the softmax, in that order.
  QuantParams constant;
  std::vector<float> gamma, beta;
  std::vector<QuantParams> inner;
};

struct DeployModel {
  models::ModelSpec spec;
  bool quantized = false;
  QuantParams input;                // quantized: the image grid (pixels in [0, 1])
  std::vector<DeployLayer> layers;  // one per spec layer
};

}  // namespace tpusim::qat
