// Element types and their traits, one table (ggml style). Enum ids are part of the .tpu encoding:
// never reuse or renumber them.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tpusim {

enum class DType : uint8_t { Int8 = 0, UInt8 = 1, Int4 = 2, UInt4 = 3, Int32 = 4 };
inline constexpr int kNumDTypes = 5;

struct DTypeTraits {
  DType type;
  const char* name;
  int bits;
  bool is_signed;
  int64_t qmin;
  int64_t qmax;
};

inline constexpr std::array<DTypeTraits, kNumDTypes> kDTypeTraits{{
    {DType::Int8, "int8", 8, true, -128, 127},
    {DType::UInt8, "uint8", 8, false, 0, 255},
    {DType::Int4, "int4", 4, true, -8, 7},
    {DType::UInt4, "uint4", 4, false, 0, 15},
    {DType::Int32, "int32", 32, true, INT32_MIN, INT32_MAX},
}};

constexpr bool valid_dtype(int64_t v) { return v >= 0 && v < kNumDTypes; }
constexpr const DTypeTraits& traits(DType t) { return kDTypeTraits[static_cast<int>(t)]; }
constexpr const char* name(DType t) { return traits(t).name; }
constexpr int bits(DType t) { return traits(t).bits; }
constexpr bool is_4bit(DType t) { return traits(t).bits == 4; }

// Bytes occupied by `count` packed elements (int4 packs two per byte, low nibble first).
constexpr uint64_t packed_bytes(DType t, uint64_t count) { return (count * bits(t) + 7) / 8; }

std::optional<DType> dtype_from_name(std::string_view s);

// Compile-time check that the table is indexed by its own enum.
constexpr bool dtype_table_consistent() {
  for (int i = 0; i < kNumDTypes; ++i)
    if (static_cast<int>(kDTypeTraits[i].type) != i) return false;
  return true;
}
static_assert(dtype_table_consistent(), "kDTypeTraits must be indexed by DType");

}  // namespace tpusim
