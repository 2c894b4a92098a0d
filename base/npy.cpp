#include "base/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <bit>
#include <cstring>

#include "base/error.h"
#include "base/file_io.h"
#include "base/printable.h"

namespace tpusim {

namespace {

struct TypeInfo {
  NpyType type;
  const char* descr;  // numpy type string; '|' for single bytes
  const char* name;
  int size;
};
constexpr std::array<TypeInfo, 9> kTypes{{
    {NpyType::I8, "|i1", "int8", 1},
    {NpyType::U8, "|u1", "uint8", 1},
    {NpyType::I16, "<i2", "int16", 2},
    {NpyType::U16, "<u2", "uint16", 2},
    {NpyType::I32, "<i4", "int32", 4},
    {NpyType::U32, "<u4", "uint32", 4},
    {NpyType::I64, "<i8", "int64", 8},
    {NpyType::F32, "<f4", "float32", 4},
    {NpyType::F64, "<f8", "float64", 8},
}};
const TypeInfo& info(NpyType t) { return kTypes[static_cast<int>(t)]; }

constexpr uint64_t kMaxElements = uint64_t{1} << 34;

uint64_t load_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// The text after "'key':" in the header dict (spaces skipped), or npos when the key is absent.
size_t value_of(const std::string& h, const char* key) {
  const std::string quoted = fmt::format("'{}'", key);
  size_t p = h.find(quoted);
  if (p == std::string::npos) return p;
  p = h.find_first_not_of(" \t", p + quoted.size());
  if (p == std::string::npos || h[p] != ':') return std::string::npos;
  return h.find_first_not_of(" \t", p + 1);
}

// The header is a Python dict literal; numpy always writes these three keys.
void parse_header(const std::string& h, NpyArray& a, const std::string& source) {
  size_t p = value_of(h, "descr");
  const size_t close = p == std::string::npos || h[p] != '\'' ? std::string::npos : h.find('\'', p + 1);
  if (close == std::string::npos) throw Error(fmt::format("{}: npy header has no 'descr'", source));
  std::string descr = h.substr(p + 1, close - p - 1);
  if (descr.size() == 3 && descr[0] == '=') descr[0] = '<';  // native order on a little-endian host
  if (descr == "<i1" || descr == "<u1") descr[0] = '|';
  const TypeInfo* type = nullptr;
  for (const TypeInfo& t : kTypes)
    if (descr == t.descr) type = &t;
  if (!type)
    throw Error(
        fmt::format("{}: unsupported npy dtype '{}' (int8/16/32/64, uint8/16/32, float32/64, "
                    "little-endian)",
                    source, printable(descr)));
  a.type = type->type;

  p = value_of(h, "fortran_order");
  if (p == std::string::npos || (h.compare(p, 4, "True") != 0 && h.compare(p, 5, "False") != 0))
    throw Error(fmt::format("{}: npy header has no 'fortran_order'", source));
  if (h.compare(p, 4, "True") == 0)
    throw Error(fmt::format("{}: Fortran-order arrays are not supported", source));

  p = value_of(h, "shape");
  const size_t end = p == std::string::npos || h[p] != '(' ? std::string::npos : h.find(')', p);
  if (end == std::string::npos) throw Error(fmt::format("{}: npy header has no 'shape'", source));
  const std::string dims = h.substr(p + 1, end - p - 1);
  // A Python tuple of non-negative integers: (), (3,), (2, 3) — digits, commas and spaces only.
  a.shape.clear();
  uint64_t count = 1;
  size_t i = 0;
  auto skip_spaces = [&] {
    while (i < dims.size() && dims[i] == ' ') ++i;
  };
  for (skip_spaces(); i < dims.size(); skip_spaces()) {
    const size_t start = i;
    while (i < dims.size() && dims[i] >= '0' && dims[i] <= '9') ++i;
    if (i == start) throw Error(fmt::format("{}: malformed npy shape ({})", source, printable(dims)));
    if (i - start > 12) throw Error(fmt::format("{}: npy shape ({}) is too large", source, printable(dims)));
    const auto v = static_cast<uint64_t>(std::stoll(dims.substr(start, i - start)));
    if (v != 0 && count > kMaxElements / v)
      throw Error(fmt::format("{}: npy shape ({}) is too large", source, printable(dims)));
    count *= v;
    a.shape.push_back(static_cast<int64_t>(v));
    skip_spaces();
    if (i < dims.size() && dims[i] == ',')
      ++i;
    else if (i < dims.size())
      throw Error(fmt::format("{}: malformed npy shape ({})", source, printable(dims)));
  }
  if (a.shape.size() > 8) throw Error(fmt::format("{}: npy rank {} exceeds 8", source, a.shape.size()));
}

}  // namespace

uint64_t NpyArray::elements() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

const char* npy_type_name(NpyType t) { return info(t).name; }
int npy_type_size(NpyType t) { return info(t).size; }

double NpyArray::at_f64(uint64_t i) const {
  const int sz = info(type).size;
  const uint64_t raw = load_le(data.data() + i * sz, sz);
  switch (type) {
    case NpyType::F32: return std::bit_cast<float>(static_cast<uint32_t>(raw));
    case NpyType::F64: return std::bit_cast<double>(raw);
    default: return static_cast<double>(at_i64(i));
  }
}

int64_t NpyArray::at_i64(uint64_t i) const {
  const int sz = info(type).size;
  const uint64_t raw = load_le(data.data() + i * sz, sz);
  switch (type) {
    case NpyType::I8: return static_cast<int8_t>(raw);
    case NpyType::I16: return static_cast<int16_t>(raw);
    case NpyType::I32: return static_cast<int32_t>(raw);
    case NpyType::I64: return static_cast<int64_t>(raw);
    case NpyType::U8:
    case NpyType::U16:
    case NpyType::U32: return static_cast<int64_t>(raw);
    case NpyType::F32:
    case NpyType::F64: break;
  }
  throw Error("npy: integer access to a float array");
}

NpyArray parse_npy(std::span<const uint8_t> b, const std::string& source) {
  static constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (b.size() < 10 || std::memcmp(b.data(), kMagic, 6) != 0)
    throw Error(fmt::format("{}: not a .npy file (bad magic)", source));
  const int major = b[6];
  if (major < 1 || major > 3)
    throw Error(fmt::format("{}: unsupported .npy version {}.{}", source, major, b[7]));
  const size_t len_bytes = major == 1 ? 2 : 4;
  if (b.size() < 8 + len_bytes) throw Error(fmt::format("{}: truncated .npy header", source));
  const uint64_t hlen = load_le(b.data() + 8, static_cast<int>(len_bytes));
  const size_t start = 8 + len_bytes;
  if (hlen > b.size() - start) throw Error(fmt::format("{}: truncated .npy header", source));
  NpyArray a;
  parse_header(std::string(b.begin() + static_cast<long>(start), b.begin() + static_cast<long>(start + hlen)),
               a, source);
  const uint64_t want = a.elements() * static_cast<uint64_t>(info(a.type).size);
  const uint64_t have = b.size() - start - hlen;
  if (have != want) throw Error(fmt::format("{}: .npy data is {} bytes, shape needs {}", source, have, want));
  a.data.assign(b.begin() + static_cast<long>(start + hlen), b.end());
  return a;
}

NpyArray load_npy(const std::string& path) { return parse_npy(read_file_bytes(path), path); }

std::vector<uint8_t> encode_npy(const NpyArray& a) {
  // Python tuple syntax: (), (3,), (2, 3).
  std::string dims = fmt::format("{}", fmt::join(a.shape, ", "));
  if (a.shape.size() == 1) dims += ",";
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", info(a.type).descr, dims);
  // Pad so the data starts on a 64-byte boundary, header ending in '\n' (as numpy writes it).
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::vector<uint8_t> out{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(static_cast<uint8_t>(header.size() & 0xFF));
  out.push_back(static_cast<uint8_t>(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

void save_npy(const NpyArray& a, const std::string& path) { write_file_atomic(path, encode_npy(a)); }

NpyArray make_npy_i32(const std::vector<int64_t>& shape, std::span<const int32_t> values, NpyType as) {
  NpyArray a;
  a.type = as;
  a.shape = shape;
  const int sz = info(as).size;
  a.data.resize(values.size() * sz);
  for (size_t i = 0; i < values.size(); ++i) {
    const auto u = static_cast<uint64_t>(static_cast<int64_t>(values[i]));
    for (int k = 0; k < sz; ++k) a.data[i * sz + k] = static_cast<uint8_t>(u >> (8 * k));
  }
  return a;
}

NpyArray make_npy_f32(const std::vector<int64_t>& shape, std::span<const float> values) {
  NpyArray a;
  a.type = NpyType::F32;
  a.shape = shape;
  a.data.resize(values.size() * 4);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint32_t u = std::bit_cast<uint32_t>(values[i]);
    for (int k = 0; k < 4; ++k) a.data[i * 4 + k] = static_cast<uint8_t>(u >> (8 * k));
  }
  return a;
}

}  // namespace tpusim
