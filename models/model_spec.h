// The model zoo, defined once as data: a list of layers, each reading earlier layers' outputs.
// FP32 training (models/net.h), QAT fake-quant (qat/), export (qat/onnx_export.h) and the tests
// all walk this one description, so the networks they see cannot drift apart. No libtorch here.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tpusim::models {

enum class LayerKind {
  Conv,           // 2-D convolution (groups: depthwise when groups == in == out), optional BN, act
  Linear,         // fully connected on a flat input, optional BN (1-D), act
  MaxPool,        // square window, no padding
  GlobalAvgPool,  // mean over H x W, keeps [N, C, 1, 1]
  Add,            // elementwise sum of two inputs, act
  Flatten,        // [N, C, H, W] -> [N, C*H*W]
  // Transformer layers (vit_tiny). A token sequence [N, T, D] has Shape{D, T, 1, seq = true}.
  Tokens,       // [N, C, H, W] -> [N, H*W, C] (the patch grid as a sequence)
  ClassToken,   // prepends a learned token [D]: T -> T + 1
  PosEmbed,     // adds a learned position embedding [T, D]
  LayerNorm,    // over the last axis (features), learned gamma and beta
  Gelu,         // the exact (erf) GELU, elementwise
  Attention,    // inputs q, k, v [N, T, D]: softmax(q_h k_h^T) v_h per head, heads merged again
  ClassSelect,  // [N, T, D] -> [N, D]: the class token's row (token 0)
};
const char* name(LayerKind k);

enum class Activation { None, Relu };

// LayerNorm's epsilon (training, fake quant and export).
inline constexpr double kLayerNormEps = 1e-5;

// Index of the model input in Layer::inputs.
inline constexpr int kImage = -1;

struct Layer {
  std::string name;  // unique; becomes the ONNX node and parameter prefix
  LayerKind kind = LayerKind::Conv;
  std::vector<int> inputs;  // indices of earlier layers, or kImage; Add has two, the rest one
  // Conv / Linear geometry (Linear: in_ch = in_features, out_ch = out_features).
  int64_t in_ch = 0, out_ch = 0;
  int64_t kernel = 1, stride = 1, pad = 0, groups = 1;
  bool batchnorm = false;  // BN after the conv/linear (then the layer has no own bias)
  Activation act = Activation::None;
  // MaxPool: square window and stride.
  int64_t pool = 2;
  // Attention: number of heads (divides D). Linear: a constant factor on weight and bias, the
  // attention's 1/sqrt(head_dim) folded into the query projection (the integer graph then needs
  // no extra rescale before Q*K^T).
  int64_t heads = 1;
  double out_scale = 1.0;
};

struct ModelSpec {
  std::string name;
  int64_t in_ch = 1, height = 28, width = 28, classes = 10;
  std::vector<Layer> layers;  // topological order; the last layer's output is the class scores

  // Output shape [C, H, W] (H = W = 1 after Linear/Flatten: then C holds the features) of a layer.
  struct Shape {
    int64_t c = 0, h = 0, w = 0;
    bool seq = false;  // a token sequence: c features, h tokens, w = 1
  };
  std::vector<Shape> shapes() const;  // one per layer; also validates the spec (throws Error)
  // Indices of the layers that quantize weights (Conv/Linear), in order; the first and last of
  // them take the first/last-layer bit-width overrides.
  std::vector<int> weight_layers() const;
  int64_t macs() const;      // multiply-accumulates per image
  bool transformer() const;  // has transformer layers (exported at opset 17 for LayerNormalization)
};

// lenet5 (LeNet-style, BN), resnet8 (residual Adds), mobilenet (depthwise separable), mlp,
// vit_tiny (a small vision transformer).
std::vector<std::string> model_names();
// The named model for images of in_ch x height x width and `classes` outputs. Throws Error
// naming the model (and listing the known ones) for an unknown name or a too-small input.
ModelSpec model_spec(std::string_view name, int64_t in_ch = 1, int64_t height = 28, int64_t width = 28,
                     int64_t classes = 10);

}  // namespace tpusim::models
