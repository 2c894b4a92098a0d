// The constant evaluator's internals (const_eval.cpp), shared with its broadcasting ops
// (const_eval_broadcast.cpp).
#pragma once
#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "compiler/graph.h"

namespace tpusim::compiler::const_eval_detail {

struct Eval {
  const Graph& g;
  const Node& n;

  [[noreturn]] void fail(const std::string& m) const { g.fail(n, m); }
  const Tensor& in(size_t i) const { return *g.constant(n.input(i)); }
  bool has(size_t i) const { return i < n.inputs.size() && !n.input(i).empty(); }
  const OnnxAttrs* attrs() const { return std::get_if<OnnxAttrs>(&n.attrs); }
  // An int list from attribute `name` (older opsets) or from constant input i (newer ones).
  std::optional<std::vector<int64_t>> ints(const char* name, size_t i) const {
    if (const OnnxAttrs* a = attrs(); a && a->find_ints(name)) return *a->find_ints(name);
    if (!has(i)) return std::nullopt;
    const Tensor& t = in(i);
    if (is_float(t.type)) fail(fmt::format("'{}' must be an integer tensor", n.input(i)));
    return t.ints;
  }
  int64_t axis(int64_t a, size_t rank, bool inclusive = false) const {
    const auto r = static_cast<int64_t>(rank) + (inclusive ? 1 : 0);
    const int64_t v = a < 0 ? a + r : a;
    if (v < 0 || v >= r) fail(fmt::format("axis {} is out of range for rank {}", a, rank));
    return v;
  }
  // y takes x's type; copy[i] is the element of x that y element i holds.
  Tensor gather(const Tensor& x, Shape shape, const std::vector<int64_t>& src) const {
    Tensor y;
    y.shape = std::move(shape);
    y.type = x.type;
    if (is_float(x.type)) {
      y.f32.resize(src.size());
      for (size_t i = 0; i < src.size(); ++i) y.f32[i] = x.f32[static_cast<size_t>(src[i])];
    } else {
      y.ints.resize(src.size());
      for (size_t i = 0; i < src.size(); ++i) y.ints[i] = x.ints[static_cast<size_t>(src[i])];
    }
    return y;
  }
  Tensor view(const Tensor& x, Shape s) const {
    Tensor y = x;
    y.shape = std::move(s);
    return y;
  }

  Tensor run() const;
  Tensor binary() const;  // Add, Sub, Mul, Div, Pow, Equal (const_eval_broadcast.cpp)
  Tensor where() const;
  Tensor expand() const;
  Tensor scatter_nd() const;  // reduction none
  Tensor slice() const;
  Tensor transpose() const;
  Tensor gather_op() const;
  Tensor unsqueeze(bool squeeze) const;
};

}  // namespace tpusim::compiler::const_eval_detail
