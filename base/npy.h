// NumPy .npy arrays in and out (format versions 1.0-3.0, little-endian, C order). Used for
// simulator inputs/outputs, calibration data and per-layer dumps.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tpusim {

enum class NpyType : uint8_t { I8, U8, I16, U16, I32, U32, I64, F32, F64 };

struct NpyArray {
  NpyType type = NpyType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // little-endian elements, C order

  uint64_t elements() const;
  bool is_float() const { return type == NpyType::F32 || type == NpyType::F64; }
  // Element i converted (integers exactly; floats as double).
  double at_f64(uint64_t i) const;
  int64_t at_i64(uint64_t i) const;  // integer types only
};

const char* npy_type_name(NpyType t);  // numpy dtype name: "int8", "float32", ...
int npy_type_size(NpyType t);

// Parse; throws Error "<source>: <problem>" (bad magic, unsupported dtype, big-endian,
// Fortran order, malformed header, data size not matching the shape).
NpyArray parse_npy(std::span<const uint8_t> bytes, const std::string& source);
NpyArray load_npy(const std::string& path);

std::vector<uint8_t> encode_npy(const NpyArray& a);
// Atomic (temp file + rename).
void save_npy(const NpyArray& a, const std::string& path);

// Build arrays from typed values.
NpyArray make_npy_i32(const std::vector<int64_t>& shape, std::span<const int32_t> values, NpyType as);
NpyArray make_npy_f32(const std::vector<int64_t>& shape, std::span<const float> values);

}  // namespace tpusim
