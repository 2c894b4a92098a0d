#include "compiler/batch_rows.h"

namespace tpusim::compiler {

namespace {

template <class C>
auto rows(const C& data, int64_t r, int64_t e) {
  using V = std::decay_t<decltype(data[0])>;
  return std::vector<V>(data.begin() + r * e, data.begin() + (r + 1) * e);
}

template <class T>
void stack(T& stacked, const T& run, int64_t runs, bool first) {
  if (first) {
    stacked = run;
    if (!stacked.shape.empty()) stacked.shape[0] *= runs;
  }
}

}  // namespace

Tensor slice_rows(const Tensor& t, int64_t r, const Shape& shape) {
  Tensor s;
  s.name = t.name;
  s.shape = shape;
  s.type = t.type;
  const int64_t e = num_elements(shape);
  if (is_float(t.type))
    s.f32 = rows(t.f32, r, e);
  else
    s.ints = rows(t.ints, r, e);
  return s;
}

IntValue slice_rows(const IntValue& v, int64_t r, const Shape& shape) {
  IntValue s = v;
  s.shape = shape;
  s.data = rows(v.data, r, num_elements(shape));
  return s;
}

void append_rows(Tensor& stacked, const Tensor& run, int64_t runs) {
  const bool first = stacked.f32.empty() && stacked.ints.empty();
  stack(stacked, run, runs, first);
  if (first) {
    stacked.f32.reserve(run.f32.size() * static_cast<size_t>(runs));
    stacked.ints.reserve(run.ints.size() * static_cast<size_t>(runs));
    return;
  }
  stacked.f32.insert(stacked.f32.end(), run.f32.begin(), run.f32.end());
  stacked.ints.append(run.ints.begin(), run.ints.end());
}

void append_rows(IntValue& stacked, const IntValue& run, int64_t runs) {
  const bool first = stacked.data.empty();
  stack(stacked, run, runs, first);
  if (first)
    stacked.data.reserve(run.data.size() * static_cast<size_t>(runs));
  else
    stacked.data.insert(stacked.data.end(), run.data.begin(), run.data.end());
}

void append_rows(TensorMap& stacked, const TensorMap& run, int64_t runs) {
  for (const auto& [name, t] : run) {
    auto it = stacked.find(name);
    if (t.is_const) {
      if (it == stacked.end()) stacked.emplace(name, t);
      continue;
    }
    append_rows(stacked[name], t, runs);
  }
}

void append_rows(IntValues& stacked, const IntValues& run, int64_t runs) {
  for (const auto& [name, v] : run) append_rows(stacked[name], v, runs);
}

}  // namespace tpusim::compiler
