#include "compiler/tensor_io.h"

#include <fmt/format.h>

#include <bit>
#include <set>

#include "base/error.h"
#include "base/npz.h"

namespace tpusim::compiler {

NpyArray to_npy(const Tensor& t) {
  if (is_float(t.type)) return make_npy_f32(t.shape, t.f32);
  NpyArray a;
  a.shape = t.shape;
  switch (t.type) {
    case ElemType::I8:
    case ElemType::I4: a.type = NpyType::I8; break;
    case ElemType::U8:
    case ElemType::U4: a.type = NpyType::U8; break;
    case ElemType::I32: a.type = NpyType::I32; break;
    default: a.type = NpyType::I64; break;
  }
  const int size = npy_type_size(a.type);
  a.data.resize(t.ints.size() * static_cast<size_t>(size));
  for (size_t i = 0; i < t.ints.size(); ++i) {
    const auto u = static_cast<uint64_t>(t.ints[i]);
    for (int b = 0; b < size; ++b) a.data[i * size + b] = static_cast<uint8_t>(u >> (8 * b));
  }
  return a;
}

Tensor from_npy(const NpyArray& a, const std::string& name, ElemType type) {
  Tensor t;
  t.name = name;
  t.shape = a.shape;
  t.type = type;
  const uint64_t n = a.elements();
  if (is_float(type)) {
    if (!a.is_float())
      throw Error(fmt::format("{}: expected a float array, got {}", name, npy_type_name(a.type)));
    t.f32.resize(n);
    for (uint64_t i = 0; i < n; ++i) t.f32[i] = static_cast<float>(a.at_f64(i));
  } else {
    if (a.is_float())
      throw Error(fmt::format("{}: expected an integer array, got {}", name, npy_type_name(a.type)));
    t.ints.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      t.ints[i] = a.at_i64(i);
      if (t.ints[i] < qmin(type) || t.ints[i] > qmax(type))
        throw Error(
            fmt::format("{}: value {} is out of range for {}", name, t.ints[i], elem_type_name(type)));
    }
  }
  return t;
}

std::string sanitize_member_name(const std::string& name) {
  std::string s;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || (c == '.' && (s.empty() || s.back() != '.'));
    s.push_back(ok ? c : '_');
  }
  return s.empty() ? "_" : s;
}

std::vector<std::pair<std::string, std::string>> save_tensors_npz(
    const std::map<std::string, Tensor>& tensors, const std::string& path) {
  std::vector<NpzMember> members;
  std::vector<std::pair<std::string, std::string>> names;
  std::set<std::string> used;
  for (const auto& [name, t] : tensors) {
    std::string m = sanitize_member_name(name);
    for (int k = 1; used.count(m); ++k) m = fmt::format("{}__{}", sanitize_member_name(name), k);
    used.insert(m);
    members.push_back({m, to_npy(t)});
    names.emplace_back(name, m);
  }
  save_npz(members, path);
  return names;
}

}  // namespace tpusim::compiler
