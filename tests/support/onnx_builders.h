// ONNX models built in C++ with libonnx's protobuf classes, for the compiler's tests: a small
// builder and QDQ building blocks (the model zoo built with them is onnx_zoo.h).
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
// What importing them throws (the one-line Error), or "no error".
std::string import_error(const std::string& bytes, int64_t batch = 1);

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
// Cosine similarity of two outputs (double sums).
double cosine(const std::vector<float>& a, const std::vector<float>& b);
std::vector<int64_t> uniform_ints(std::mt19937& rng, size_t n, int64_t lo, int64_t hi);

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
