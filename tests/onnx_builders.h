// ONNX models built in C++ with libonnx's protobuf classes, for the compiler's tests: a small
// builder plus the model zoo the tests import, run, and compare with ONNX Runtime.
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "compiler/graph.h"

namespace tpusim::testing {

// Imports serialised model bytes as the file "m.onnx", binding the batch dimension.
compiler::Graph import_model(const std::string& bytes, int64_t batch = 1);

// ONNX TensorProto.DataType ids used here.
enum OnnxType : int32_t {
  kFloat = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kUInt4 = 21,
  kInt4 = 22
};

class ModelBuilder {
 public:
  explicit ModelBuilder(int64_t opset = 13, int64_t ir_version = 8);

  // A graph input; a dimension of -1 becomes the symbolic batch dimension "N".
  ModelBuilder& input(const std::string& name, const std::vector<int64_t>& shape, int32_t type = kFloat);
  ModelBuilder& output(const std::string& name, int32_t type = kFloat);

  // Initializers; return the name. Integer data goes to raw_data (int4/uint4 packed two per
  // byte, low nibble first) or, with raw = false, to int32_data/int64_data (int4: packed two per
  // entry as the ONNX spec says).
  std::string f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v,
                  bool raw = true);
  std::string ints(const std::string& name, const std::vector<int64_t>& shape, int32_t type,
                   const std::vector<int64_t>& v, bool raw = true);
  std::string scalar(const std::string& name, float v) { return f32(name, {}, {v}); }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output, const std::string& name = "");
  std::string bytes() const;
  onnx::ModelProto& proto() { return m_; }

 private:
  onnx::ModelProto m_;
  onnx::GraphProto* g_;
};

void attr(onnx::NodeProto& n, const std::string& name, int64_t v);
void attr(onnx::NodeProto& n, const std::string& name, float v);
void attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);
void attr(onnx::NodeProto& n, const std::string& name, const std::string& v);

// Deterministic random data.
std::vector<float> uniform(std::mt19937& rng, size_t n, float lo, float hi);
std::vector<int64_t> uniform_ints(std::mt19937& rng, size_t n, int64_t lo, int64_t hi);

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

}  // namespace tpusim::testing

namespace tpusim::testing {

// A QDQ model for the quantized lowering tests (not in test_models(), which the ONNX Runtime
// comparison walks): int8 depthwise Conv + ReLU6 (Clip 0..6), pointwise Conv with an int32 bias,
// 1x1 skip Conv, residual Add + ReLU on two scales, AveragePool (count_include_pad=0, pads),
// MaxPool onto another scale, Mul, Concat of three scales, GlobalAveragePool, Flatten, Gemm.
TestModel qdq_depthwise(int64_t batch);

}  // namespace tpusim::testing

namespace tpusim::testing {

// Small QDQ building blocks for hand-made models (quantized lowering tests).
// QuantizeLinear -> DequantizeLinear of an activation, per tensor; the integer tensor is
// "<out>_q", the nodes "<out>_quant" and "<out>". Returns `out`.
std::string add_qdq(ModelBuilder& b, const std::string& in, const std::string& out, float scale, int64_t zp,
                    int32_t type);
// DequantizeLinear (node and output `name`) of the integer constant "<name>_q"; per tensor when
// `scale` has one entry, else along `axis`. Zero points default to 0.
std::string add_dq_const(ModelBuilder& b, const std::string& name, const std::vector<int64_t>& shape,
                         int32_t type, const std::vector<int64_t>& q, const std::vector<float>& scale,
                         std::vector<int64_t> zp = {}, int64_t axis = 0);

}  // namespace tpusim::testing
