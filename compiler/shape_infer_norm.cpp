// Shape inference of the normalisations over trailing axes: Softmax and LayerNormalization.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/shape_infer.h"

namespace tpusim::compiler {

namespace {

int64_t normalised_axis(const Graph& g, const Node& n, int64_t axis, size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  const int64_t a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r) g.fail(n, fmt::format("axis {} is out of range for rank {}", axis, rank));
  return a;
}

void want_float(const Graph& g, const Node& n, size_t i) {
  const Tensor& t = g.tensor(n.input(i));
  if (t.type != ElemType::F32)
    g.fail(n, fmt::format("input '{}' is {}, expected float32 (is a DequantizeLinear missing?)", n.input(i),
                          elem_type_name(t.type)));
}

void set(Graph& g, const std::string& name, Shape s) {
  Tensor& o = g.tensor(name);
  o.shape = std::move(s);
  o.type = ElemType::F32;
}

// The axes a fused LayerNormalization reduced (ReduceMean's) must be the trailing ones.
int64_t axis_from_axes(const Graph& g, const Node& n, const std::vector<int64_t>& axes, size_t rank) {
  std::vector<int64_t> a;
  for (int64_t v : axes) a.push_back(normalised_axis(g, n, v, rank));
  std::sort(a.begin(), a.end());
  for (size_t i = 0; i < a.size(); ++i)
    if (a[a.size() - 1 - i] != static_cast<int64_t>(rank - 1 - i))
      g.fail(n, fmt::format("normalises over axes {}, not the trailing axes of a rank-{} input",
                            shape_str(axes), rank));
  return a.front();
}

}  // namespace

void infer_softmax(Graph& g, Node& n) {
  want_float(g, n, 0);
  const Shape x = g.tensor(n.input(0)).shape;
  if (x.empty()) g.fail(n, "the input is a scalar");
  auto& a = n.attr<SoftmaxAttrs>();
  a.axis = normalised_axis(g, n, a.axis, x.size());
  set(g, n.outputs[0], x);
}

void infer_layer_norm(Graph& g, Node& n) {
  want_float(g, n, 0);
  const Shape x = g.tensor(n.input(0)).shape;
  if (x.empty()) g.fail(n, "the input is a scalar");
  auto& a = n.attr<LayerNormAttrs>();
  if (!a.axes.empty()) {
    a.axis = axis_from_axes(g, n, a.axes, x.size());
    a.axes.clear();
  }
  a.axis = normalised_axis(g, n, a.axis, x.size());
  const Shape inner(x.begin() + a.axis, x.end());
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (n.input(i).empty()) continue;
    want_float(g, n, i);
    const Shape& p = g.tensor(n.input(i)).shape;
    const auto b = broadcast_shapes(inner, p);
    if (!b || *b != inner)
      g.fail(n, fmt::format("{} '{}' {} does not broadcast to the normalised shape {}",
                            i == 1 ? "scale" : "bias", n.input(i), shape_str(p), shape_str(inner)));
  }
  set(g, n.outputs[0], x);
  Shape stat = x;
  std::fill(stat.begin() + a.axis, stat.end(), 1);
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (!n.outputs[i].empty()) set(g, n.outputs[i], stat);
}

}  // namespace tpusim::compiler
