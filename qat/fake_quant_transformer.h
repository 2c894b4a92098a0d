// Fake quantization of the transformer reductions, so QAT trains what the machine runs: the forward
// value is the integer algorithm of the `softmax` / `layernorm` instructions (docs/numerics.md,
// "Softmax and LayerNorm") on the input's codes, requantized onto the output grid and dequantized;
// the backward is the float op's gradient at the (dequantized) input — a straight-through
// estimator for the whole op, as fake_quant_ste is for one rounding. Over the last axis, per-tensor
// grids, CPU tensors (the integer forward runs element by element with isa/numerics.h, the same
// arithmetic as the simulator and the compiler's integer reference).
#pragma once
#include <torch/torch.h>

#include <cstdint>

#include "isa/dtype.h"

namespace tpusim::qat {

// A per-tensor activation grid.
struct Grid {
  float scale = 1.0f;
  int32_t zero_point = 0;
  DType dtype = DType::Int8;  // 8- or 4-bit
};

// x (float, any shape, last axis reduced) is quantized onto `in` (ONNX QuantizeLinear), the
// integer softmax computed with the exp table of in.scale, and the result requantized onto `out`.
torch::Tensor int_softmax(const torch::Tensor& x, const Grid& in, const Grid& out);

// The integer layernorm with gamma/beta [D] (float, trainable: their gradients are the float op's)
// and epsilon, as the compiler lowers LayerNormalization (quant/transformer_params.h).
torch::Tensor int_layernorm(const torch::Tensor& x, const torch::Tensor& gamma, const torch::Tensor& beta,
                            double epsilon, const Grid& in, const Grid& out);

}  // namespace tpusim::qat
