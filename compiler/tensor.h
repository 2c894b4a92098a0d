// Tensors of the compiler's graph IR: name, static shape, element type and, for constants
// (initializers, folded weights), the data. Float data lives in `f32`, integer data (any integer
// element type, one value per element, int4 already unpacked and sign-extended) in `ints`, stored
// as int8 while the values fit (int_data.h: a model's quantized weights take one byte each).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/int_data.h"
#include "isa/dtype.h"

namespace tpusim::compiler {

// ONNX TensorProto.DataType ids are kept as the enum values (FLOAT=1, UINT8=2, INT8=3, INT32=6,
// INT64=7, UINT4=21, INT4=22), so import is a range check.
enum class ElemType : int32_t { F32 = 1, U8 = 2, I8 = 3, I32 = 6, I64 = 7, U4 = 21, I4 = 22 };

const char* elem_type_name(ElemType t);  // "float32", "uint8", "int8", "int32", "int64", "uint4", "int4"
std::optional<ElemType> elem_type_from_onnx(int32_t onnx_type);
bool is_float(ElemType t);
// The quantized element types as the ISA's DType (int8/uint8/int4/uint4/int32), if one.
std::optional<DType> to_dtype(ElemType t);
int64_t qmin(ElemType t);  // integer range of the type
int64_t qmax(ElemType t);

using Shape = std::vector<int64_t>;
int64_t num_elements(const Shape& s);
std::string shape_str(const Shape& s);  // "[1, 3, 28, 28]"

struct Tensor {
  std::string name;
  Shape shape;
  ElemType type = ElemType::F32;
  std::vector<float> f32;  // constant or computed float data (type F32)
  IntData ints;            // constant or computed integer data (integer types; int8 while it fits)
  bool is_const = false;   // an initializer or a folded constant

  int64_t elements() const { return num_elements(shape); }
  // Element i as float (either storage).
  float at(int64_t i) const {
    return is_float(type) ? f32[static_cast<size_t>(i)] : static_cast<float>(ints[static_cast<size_t>(i)]);
  }
};

Tensor make_f32(std::string name, Shape shape, std::vector<float> data);
Tensor make_ints(std::string name, Shape shape, ElemType type, IntData data);

}  // namespace tpusim::compiler
