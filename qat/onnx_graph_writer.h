// The ONNX building blocks of the QAT exporter (onnx_export.cpp): initializers, nodes, attributes,
// and the QDQ patterns of docs/qat.md, "Export" (QuantizeLinear -> DequantizeLinear, and the Clip
// of a grid narrower than its 8-bit container).
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "quant/calibration.h"

namespace tpusim::qat {

// ONNX TensorProto.DataType ids (libonnx 1.12 predates INT4/UINT4, so they are spelled here).
constexpr int32_t kOnnxFloat = 1, kOnnxUInt8 = 2, kOnnxInt8 = 3, kOnnxInt32 = 6, kOnnxInt64 = 7,
                  kOnnxUInt4 = 21, kOnnxInt4 = 22;
int32_t onnx_type(DType t);
// The type a grid's integers are written in: its storage type, or the 8-bit type of the same
// signedness (the compiler's narrow_storage pass reads them back into 4 bits).
DType container(const QuantSpec& s, bool four_bit_types);
// Whether the grid leaves part of its container unused (2-bit in int4, 4-bit in uint8, narrow):
// then QuantizeLinear alone would saturate at the container's limits, so a Clip restores the grid's.
bool narrower_than(const QuantSpec& s, DType container);

class GraphWriter {
 public:
  explicit GraphWriter(bool four_bit_types);
  onnx::ModelProto model;
  onnx::GraphProto* g;
  bool four_bit_types;  // grids of 4 bits and fewer in int4/uint4 tensors, else in 8-bit containers

  onnx::TensorProto* init(const std::string& name, const std::vector<int64_t>& dims, int32_t type);
  // A float32 initializer (raw little-endian data); returns its name.
  std::string floats(const std::string& name, const std::vector<int64_t>& dims, std::span<const float> v);
  // Integers in raw_data: 4-bit two per byte (low nibble first), int32 little-endian.
  std::string ints(const std::string& name, const std::vector<int64_t>& dims, DType t,
                   const std::vector<int32_t>& v);
  // int64 values (shapes, indices) in int64_data.
  std::string int64s(const std::string& name, const std::vector<int64_t>& dims,
                     const std::vector<int64_t>& v);
  // A node named after its single output.
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& out);
  static void attr(onnx::NodeProto& n, const std::string& name, int64_t v);
  static void attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);
  static void attr(onnx::NodeProto& n, const std::string& name, float v);
  // x -> QuantizeLinear -> "<prefix>_q" -> DequantizeLinear -> out, with "<prefix>_scale" and
  // "<prefix>_zero_point" as parameters.
  std::string quant_dequant(const std::string& x, const std::string& prefix, const std::string& out,
                            const QuantParams& p);
  // x -> Clip("<prefix>_clip") to the grid's range, where the grid is narrower than its container.
  std::string clip_to(const std::string& x, const std::string& prefix, const QuantParams& p);
};

}  // namespace tpusim::qat
