#include "compiler/tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tpusim::compiler {

const char* elem_type_name(ElemType t) {
  switch (t) {
    case ElemType::F32: return "float32";
    case ElemType::U8: return "uint8";
    case ElemType::I8: return "int8";
    case ElemType::I32: return "int32";
    case ElemType::I64: return "int64";
    case ElemType::U4: return "uint4";
    case ElemType::I4: return "int4";
  }
  return "?";
}

std::optional<ElemType> elem_type_from_onnx(int32_t v) {
  switch (v) {
    case 1:
    case 2:
    case 3:
    case 6:
    case 7:
    case 21:
    case 22: return static_cast<ElemType>(v);
    default: return std::nullopt;
  }
}

bool is_float(ElemType t) { return t == ElemType::F32; }

std::optional<DType> to_dtype(ElemType t) {
  switch (t) {
    case ElemType::I8: return DType::Int8;
    case ElemType::U8: return DType::UInt8;
    case ElemType::I4: return DType::Int4;
    case ElemType::U4: return DType::UInt4;
    case ElemType::I32: return DType::Int32;
    default: return std::nullopt;
  }
}

int64_t qmin(ElemType t) {
  if (t == ElemType::I64) return INT64_MIN;
  const auto d = to_dtype(t);
  return d ? traits(*d).qmin : 0;
}

int64_t qmax(ElemType t) {
  if (t == ElemType::I64) return INT64_MAX;
  const auto d = to_dtype(t);
  return d ? traits(*d).qmax : 0;
}

int64_t num_elements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

Tensor make_f32(std::string name, Shape shape, std::vector<float> data) {
  Tensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.type = ElemType::F32;
  t.f32 = std::move(data);
  return t;
}

Tensor make_ints(std::string name, Shape shape, ElemType type, IntData data) {
  Tensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.type = type;
  t.ints = std::move(data);
  return t;
}

}  // namespace tpusim::compiler
