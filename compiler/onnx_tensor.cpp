// ONNX TensorProto -> IR constant: raw_data (little-endian, int4/uint4 packed two per byte, low
// nibble first) or the typed repeated fields (float_data, int32_data, int64_data).
#include <fmt/format.h>

#include <bit>
#include <cstring>

#include "base/error.h"
#include "compiler/onnx_internal.h"

namespace tpusim::compiler::onnx_detail {

namespace {

int64_t sign_nibble(uint32_t v, bool is_signed) {
  v &= 0xF;
  return is_signed && v >= 8 ? static_cast<int64_t>(v) - 16 : static_cast<int64_t>(v);
}

void check_range(const Tensor& t, const std::string& where) {
  for (int64_t v : t.ints)
    if (v < qmin(t.type) || v > qmax(t.type))
      throw Error(fmt::format("{}: value {} is out of range for {}", where, v, elem_type_name(t.type)));
}

void decode_raw(const std::string& raw, Tensor& t, int64_t n, const std::string& where) {
  const auto* b = reinterpret_cast<const uint8_t*>(raw.data());
  const bool four = t.type == ElemType::I4 || t.type == ElemType::U4;
  const int size = t.type == ElemType::I64 ? 8 : (t.type == ElemType::F32 || t.type == ElemType::I32) ? 4 : 1;
  const uint64_t want = four ? static_cast<uint64_t>((n + 1) / 2) : static_cast<uint64_t>(n) * size;
  if (raw.size() != want)
    throw Error(fmt::format("{}: raw_data has {} bytes, shape {} of {} needs {}", where, raw.size(),
                            shape_str(t.shape), elem_type_name(t.type), want));
  auto le = [&](int64_t i, int bytes) {
    uint64_t v = 0;
    for (int k = 0; k < bytes; ++k) v |= uint64_t{b[i * bytes + k]} << (8 * k);
    return v;
  };
  if (t.type == ElemType::F32) {
    t.f32.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) t.f32[i] = std::bit_cast<float>(static_cast<uint32_t>(le(i, 4)));
    return;
  }
  t.ints.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    switch (t.type) {
      case ElemType::I8: t.ints[i] = static_cast<int8_t>(b[i]); break;
      case ElemType::U8: t.ints[i] = b[i]; break;
      case ElemType::I32: t.ints[i] = static_cast<int32_t>(static_cast<uint32_t>(le(i, 4))); break;
      case ElemType::I64: t.ints[i] = static_cast<int64_t>(le(i, 8)); break;
      case ElemType::I4:
      case ElemType::U4: t.ints[i] = sign_nibble(b[i / 2] >> (4 * (i % 2)), t.type == ElemType::I4); break;
      case ElemType::F32: break;
    }
  }
}

void decode_typed(const onnx::TensorProto& p, Tensor& t, int64_t n, const std::string& where) {
  auto count_error = [&](const char* field, int got) {
    return Error(
        fmt::format("{}: {} has {} values, shape {} needs {}", where, field, got, shape_str(t.shape), n));
  };
  switch (t.type) {
    case ElemType::F32:
      if (p.float_data_size() != n) throw count_error("float_data", p.float_data_size());
      t.f32.assign(p.float_data().begin(), p.float_data().end());
      return;
    case ElemType::I64:
      if (p.int64_data_size() != n) throw count_error("int64_data", p.int64_data_size());
      t.ints.assign(p.int64_data().begin(), p.int64_data().end());
      return;
    case ElemType::I4:
    case ElemType::U4:
      // The ONNX spec packs two 4-bit values into each int32_data entry's low byte; some writers
      // store one value per entry instead. The count tells which.
      if (p.int32_data_size() == (n + 1) / 2) {
        t.ints.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i)
          t.ints[i] =
              sign_nibble(static_cast<uint32_t>(p.int32_data(static_cast<int>(i / 2))) >> (4 * (i % 2)),
                          t.type == ElemType::I4);
        return;
      }
      [[fallthrough]];
    default:
      if (p.int32_data_size() != n) throw count_error("int32_data", p.int32_data_size());
      t.ints.assign(p.int32_data().begin(), p.int32_data().end());
      check_range(t, where);
  }
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& name, const std::string& where) {
  if (p.data_location() == onnx::TensorProto_DataLocation_EXTERNAL || p.external_data_size() > 0)
    throw Error(fmt::format(
        "{}: external data is not supported (save the model with its weights inside the .onnx file)", where));
  // A boolean constant (a mask that shape arithmetic or Where reads) holds 0/1 as int64, as the
  // constant evaluator's Equal writes them: there is no bool type, and no op takes one as an
  // activation.
  const bool boolean = p.data_type() == onnx::TensorProto_DataType_BOOL;
  const auto type = boolean ? std::optional(ElemType::U8) : elem_type_from_onnx(p.data_type());
  if (!type)
    throw Error(
        fmt::format("{}: unsupported element type {} (supported: float32, uint8, int8, int32, int64, "
                    "uint4, int4)",
                    where, p.data_type()));
  Tensor t;
  t.name = name;
  t.type = *type;
  t.is_const = true;
  int64_t n = 1;
  for (int64_t d : p.dims()) {
    if (d < 0 || d > (int64_t{1} << 32)) throw Error(fmt::format("{}: bad dimension {}", where, d));
    t.shape.push_back(d);
    n *= d;
    if (n > (int64_t{1} << 32)) throw Error(fmt::format("{}: tensor is too large", where));
  }
  if (p.has_raw_data())
    decode_raw(p.raw_data(), t, n, where);
  else
    decode_typed(p, t, n, where);
  if (boolean) {
    for (size_t i = 0; i < t.ints.size(); ++i) t.ints.set(i, t.ints[i] != 0);
    t.type = ElemType::I64;
  }
  return t;
}

}  // namespace tpusim::compiler::onnx_detail
