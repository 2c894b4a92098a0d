// The model zoo of the compiler's tests: small CNNs and MLPs, FP32 and QDQ, built with
// onnx_builders.h; the tests import them, run them, lower them and compare them with ONNX Runtime.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/onnx_builders.h"

namespace tpusim::testing {

struct TestModel {
  std::string name;
  std::string bytes;                 // serialised ModelProto
  std::vector<int64_t> input_shape;  // of the single input "x", batch already bound to `batch`
  bool quantized = false;            // QDQ: compared within quantization steps, not 1e-5
  float output_scale = 0.0f;         // QDQ: the scale of the final DequantizeLinear
};

// The zoo, every model with one float32 input "x" (dynamic batch unless stated) and one output "y":
//   conv_bn_relu_pool    Conv-BN-ReLU-MaxPool, Conv-BN-Clip-AveragePool, Flatten, Gemm-BN
//   residual             Conv-ReLU-Conv(dilated) + Conv1x1 skip, Add, MaxPool(pads), GAP, Gemm(alpha, beta)
//   depthwise_separable  depthwise Conv (asymmetric pads), BN, pointwise Conv, Mul [C,1,1], Add scalar,
//                        grouped Conv branch, Concat, BN (not foldable), AveragePool, GAP, Reshape
//   mlp                  Reshape (Constant shape), MatMul (batched), Add, ReLU, Flatten, Gemm, MatMul
//   gemm_trans           Gemm transA=transB=1, alpha, beta, C [M,N] (fixed input [6,4])
//   clip_opset6          Clip with min/max attributes (opset 6), ReLU
//   qdq_int8             QDQ int8 activations, per-channel int8 weights, int32 bias
//   qdq_uint8            QDQ uint8 activations (non-zero zero points), per-tensor int8/uint8 weights,
//                        residual Add, AveragePool, MatMul
//   qdq_int4             opset 21: int4 per-channel weights (raw_data), int4 weights in int32_data,
//                        uint4 activations
std::vector<TestModel> test_models(int64_t batch);
TestModel test_model(const std::string& name, int64_t batch);

// A QDQ model for the quantized lowering tests (not in test_models(), which the ONNX Runtime
// comparison walks): int8 depthwise Conv + ReLU6 (Clip 0..6), pointwise Conv with an int32 bias,
// 1x1 skip Conv, residual Add + ReLU on two scales, AveragePool (count_include_pad=0, pads),
// MaxPool onto another scale, Mul, Concat of three scales, GlobalAveragePool, Flatten, Gemm.
TestModel qdq_depthwise(int64_t batch);

// What exporters (torch.onnx) write that canonicalization rewrites (onnx_zoo_exporters.cpp), FP32,
// input [batch, 3, 13, 13]: Identity (also onto the output), Pad -> Conv, a channel shuffle
// (Reshape -> Transpose -> Reshape) and channel Slices, MaxPool and AveragePool
// with ceil_mode, Dropout with a ratio input, a standalone BatchNormalization, zero Pads, Sub/Div
// by constants, ReduceMean over H, W (keepdims=0), a Shape/Gather/Unsqueeze/Concat -> Reshape.
TestModel exporter_forms(int64_t batch);

// A one-block ViT as torch.onnx writes torchvision's vit_b_16 (onnx_zoo_transformer.cpp), FP32,
// fixed input [batch, 3, 8, 8]: a patch Conv, Reshape + Transpose into tokens, the class token
// through ConstantOfShape/Equal/Where/Expand and Concat, a position Add, LayerNorm (decomposed
// ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add at opset 13, LayerNormalization at 17), attention (Slices of
// one QKV MatMul, heads by Reshape + Transpose, MatMul of two activations, Softmax), the Erf GELU
// MLP, residual Adds, x[:, 0] as a Gather and a Gemm head.
TestModel transformer_forms(int64_t batch, int64_t opset);

}  // namespace tpusim::testing
