#include "compiler/const_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "compiler/const_eval_internal.h"
#include "compiler/shape_infer.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

namespace {

bool evaluable(Op op) {
  switch (op) {
    case Op::Identity:
    case Op::Shape:
    case Op::Gather:
    case Op::Unsqueeze:
    case Op::Squeeze:
    case Op::Cast:
    case Op::ConstantOfShape:
    case Op::Range:
    case Op::Slice:
    case Op::Transpose:
    case Op::Concat:
    case Op::Reshape:
    case Op::Flatten:
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div:
    case Op::Neg:
    case Op::Sqrt:
    case Op::Pow:
    case Op::Equal:
    case Op::Where:
    case Op::Expand:
    case Op::Mod:
    case Op::ScatterND:
    case Op::Not:
    case Op::QuantizeLinear: return true;  // of a constant float weight (PyTorch's fake-quant export)
    default: return false;
  }
}

}  // namespace

namespace const_eval_detail {

Tensor Eval::slice() const {
  const Tensor& x = in(0);
  const auto starts = ints("starts", 1), ends = ints("ends", 2);
  if (!starts || !ends || starts->size() != ends->size())
    fail("starts and ends must be given, of one length");
  std::vector<int64_t> axes = ints("axes", 3).value_or(std::vector<int64_t>{});
  if (axes.empty()) {
    axes.resize(starts->size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  const std::vector<int64_t> steps = ints("steps", 4).value_or(std::vector<int64_t>(starts->size(), 1));
  if (axes.size() != starts->size() || steps.size() != starts->size())
    fail("starts, ends, axes and steps must have one length");
  const size_t r = x.shape.size();
  std::vector<int64_t> first(r, 0), step(r, 1);
  Shape out = x.shape;
  for (size_t k = 0; k < axes.size(); ++k) {
    const auto d = static_cast<size_t>(axis(axes[k], r));
    const int64_t dim = x.shape[d], st = steps[k];
    if (st == 0) fail("a slice step is 0");
    auto clampi = [&](int64_t v, int64_t lo, int64_t hi) { return std::clamp(v < 0 ? v + dim : v, lo, hi); };
    const int64_t b = st > 0 ? clampi((*starts)[k], 0, dim) : clampi((*starts)[k], -1, dim - 1);
    const int64_t e = st > 0 ? clampi((*ends)[k], 0, dim) : clampi((*ends)[k], -1, dim - 1);
    out[d] =
        st > 0 ? std::max<int64_t>(0, (e - b + st - 1) / st) : std::max<int64_t>(0, (b - e - st - 1) / -st);
    first[d] = b;
    step[d] = st;
  }
  const auto xs = strides_of(x.shape), os = strides_of(out);
  std::vector<int64_t> src(static_cast<size_t>(num_elements(out)));
  for (size_t i = 0; i < src.size(); ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d)
      off += (first[d] + (static_cast<int64_t>(i) / os[d] % out[d]) * step[d]) * xs[d];
    src[i] = off;
  }
  return gather(x, out, src);
}

Tensor Eval::transpose() const {
  const Tensor& x = in(0);
  const size_t r = x.shape.size();
  std::vector<int64_t> perm(r);
  for (size_t d = 0; d < r; ++d) perm[d] = static_cast<int64_t>(r - 1 - d);
  if (const OnnxAttrs* a = attrs(); a && a->find_ints("perm")) perm = *a->find_ints("perm");
  std::vector<int64_t> seen(r, 0);
  for (int64_t p : perm)
    if (p < 0 || p >= static_cast<int64_t>(r) || seen[static_cast<size_t>(p)]++)
      fail(fmt::format("perm {} is not a permutation of rank {}", shape_str(perm), r));
  Shape out(r);
  for (size_t d = 0; d < r; ++d) out[d] = x.shape[static_cast<size_t>(perm[d])];
  const auto xs = strides_of(x.shape), os = strides_of(out);
  std::vector<int64_t> src(static_cast<size_t>(num_elements(out)));
  for (size_t i = 0; i < src.size(); ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d)
      off += (static_cast<int64_t>(i) / os[d] % out[d]) * xs[static_cast<size_t>(perm[d])];
    src[i] = off;
  }
  return gather(x, out, src);
}

Tensor Eval::gather_op() const {
  const Tensor &x = in(0), &idx = in(1);
  if (is_float(idx.type)) fail("indices must be integers");
  const OnnxAttrs* a = attrs();
  const auto ax = static_cast<size_t>(axis(a ? a->i("axis", 0) : 0, x.shape.size()));
  Shape out(x.shape.begin(), x.shape.begin() + static_cast<int64_t>(ax));
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), x.shape.begin() + static_cast<int64_t>(ax) + 1, x.shape.end());
  const int64_t outer = num_elements(Shape(x.shape.begin(), x.shape.begin() + static_cast<int64_t>(ax)));
  const int64_t inner = num_elements(Shape(x.shape.begin() + static_cast<int64_t>(ax) + 1, x.shape.end()));
  const int64_t dim = x.shape[ax];
  std::vector<int64_t> src;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : idx.ints) {
      if (k < -dim || k >= dim) fail(fmt::format("index {} is out of range for dimension {}", k, dim));
      const int64_t kk = k < 0 ? k + dim : k;
      for (int64_t i = 0; i < inner; ++i) src.push_back((o * dim + kk) * inner + i);
    }
  return gather(x, out, src);
}

Tensor Eval::unsqueeze(bool squeeze) const {
  const Tensor& x = in(0);
  const auto axes = ints("axes", 1);
  Shape out;
  if (squeeze) {
    std::vector<bool> drop(x.shape.size(), false);
    if (!axes)
      for (size_t d = 0; d < x.shape.size(); ++d) drop[d] = x.shape[d] == 1;
    for (int64_t a : axes.value_or(std::vector<int64_t>{})) {
      const auto d = static_cast<size_t>(axis(a, x.shape.size()));
      if (x.shape[d] != 1) fail(fmt::format("cannot squeeze dimension {} of size {}", d, x.shape[d]));
      drop[d] = true;
    }
    for (size_t d = 0; d < x.shape.size(); ++d)
      if (!drop[d]) out.push_back(x.shape[d]);
  } else {
    if (!axes) fail("axes must be given");
    const size_t r = x.shape.size() + axes->size();
    std::vector<bool> ins(r, false);
    for (int64_t a : *axes) ins[static_cast<size_t>(axis(a, r))] = true;
    size_t k = 0;
    for (size_t d = 0; d < r; ++d) out.push_back(ins[d] ? 1 : x.shape[k++]);
  }
  return view(x, out);
}

Tensor Eval::run() const {
  const OnnxAttrs* a = attrs();
  switch (n.op) {
    case Op::Identity: return in(0);
    case Op::Shape: {
      const Shape& s = g.tensor(n.input(0)).shape;
      const auto r = static_cast<int64_t>(s.size());
      int64_t b = a ? a->i("start", 0) : 0, e = a ? a->i("end", r) : r;
      b = std::clamp(b < 0 ? b + r : b, int64_t{0}, r);
      e = std::clamp(e < 0 ? e + r : e, int64_t{0}, r);
      std::vector<int64_t> v(s.begin() + b, s.begin() + std::max(b, e));
      const auto len = static_cast<int64_t>(v.size());
      return make_ints("", {len}, ElemType::I64, std::move(v));
    }
    case Op::Gather: return gather_op();
    case Op::Unsqueeze: return unsqueeze(false);
    case Op::Squeeze: return unsqueeze(true);
    case Op::Cast: {
      const Tensor& x = in(0);
      const auto onnx_to = static_cast<int32_t>(a ? a->i("to", 0) : 0);
      const bool boolean = onnx_to == 9;  // to bool: 0/1 in int64, as imported bool constants are
      const auto to = boolean ? std::optional(ElemType::I64) : elem_type_from_onnx(onnx_to);
      if (!to || (*to != ElemType::F32 && *to != ElemType::I64 && *to != ElemType::I32))
        fail("Cast of constants is supported to float32, int32, int64 and bool");
      Tensor y;
      y.shape = x.shape;
      y.type = *to;
      for (int64_t i = 0; i < x.elements(); ++i) {
        if (is_float(*to))
          y.f32.push_back(x.at(i));
        else if (boolean)
          y.ints.push_back(x.at(i) != 0.0f ? 1 : 0);
        else
          y.ints.push_back(is_float(x.type) ? static_cast<int64_t>(std::trunc(x.f32[static_cast<size_t>(i)]))
                                            : x.ints[static_cast<size_t>(i)]);
      }
      return y;
    }
    case Op::ConstantOfShape: {
      const Tensor& s = in(0);
      if (is_float(s.type) || s.shape.size() != 1) fail("the shape input must be a 1-D integer tensor");
      int64_t total = 1;
      for (int64_t d : s.ints)
        if (d < 0 || d > (int64_t{1} << 24) || (total *= d) > (int64_t{1} << 28))
          fail(fmt::format("dimension {} is out of range (or the constant too large)", d));
      Tensor v = make_f32("", {1}, {0.0f});
      if (a && a->tensors.count("value")) v = a->tensors.at("value");
      if (v.elements() != 1) fail("value must hold one element");
      Shape shape = s.ints;
      std::vector<int64_t> src(static_cast<size_t>(num_elements(shape)), 0);
      return gather(v, shape, src);
    }
    case Op::Range: {
      const Tensor &s = in(0), &l = in(1), &d = in(2);
      if (s.elements() != 1 || l.elements() != 1 || d.elements() != 1)
        fail("start, limit and delta must be scalars");
      const double st = s.at(0), lim = l.at(0), de = d.at(0);
      if (de == 0) fail("delta is 0");
      const auto count = static_cast<int64_t>(std::max(0.0, std::ceil((lim - st) / de)));
      if (count > (int64_t{1} << 24)) fail("range is too long");
      Tensor y;
      y.shape = {count};
      y.type = s.type;
      for (int64_t i = 0; i < count; ++i) {
        if (is_float(s.type))
          y.f32.push_back(static_cast<float>(st + de * static_cast<double>(i)));
        else
          y.ints.push_back(s.ints[0] + d.ints[0] * i);
      }
      return y;
    }
    case Op::Slice: return slice();
    case Op::Transpose: return transpose();
    case Op::Concat: {
      const Tensor& x0 = in(0);
      const auto ax = static_cast<size_t>(axis(n.attr<ConcatAttrs>().axis, x0.shape.size()));
      Shape out = x0.shape;
      out[ax] = 0;
      for (size_t i = 0; i < n.inputs.size(); ++i) out[ax] += in(i).shape[ax];
      const int64_t outer = num_elements(Shape(out.begin(), out.begin() + static_cast<int64_t>(ax)));
      const int64_t inner = num_elements(Shape(out.begin() + static_cast<int64_t>(ax) + 1, out.end()));
      Tensor y;
      y.shape = out;
      y.type = x0.type;
      for (int64_t o = 0; o < outer; ++o)
        for (size_t i = 0; i < n.inputs.size(); ++i) {
          const Tensor& x = in(i);
          if (x.type != x0.type || x.shape.size() != out.size()) fail("inputs differ in type or rank");
          const int64_t cols = x.shape[ax] * inner;
          for (int64_t k = 0; k < cols; ++k) {
            if (is_float(y.type))
              y.f32.push_back(x.f32[static_cast<size_t>(o * cols + k)]);
            else
              y.ints.push_back(x.ints[static_cast<size_t>(o * cols + k)]);
          }
        }
      return y;
    }
    case Op::Reshape:
    case Op::Flatten: {
      Graph probe;  // shape inference of this one node, on a scratch copy
      probe.source = g.source;
      probe.tensors[n.input(0)] = in(0);
      probe.tensors[n.outputs[0]].name = n.outputs[0];
      Node copy = n;
      copy.inputs.resize(1);
      probe.nodes.push_back(copy);
      infer_shapes(probe);
      return view(in(0), probe.tensor(n.outputs[0]).shape);
    }
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div:
    case Op::Pow:
    case Op::Mod:
    case Op::Equal: return binary();
    case Op::Where: return where();
    case Op::Expand: return expand();
    case Op::ScatterND: return scatter_nd();
    case Op::Not: {
      Tensor y = in(0);
      if (is_float(y.type)) fail("Not of floats");
      for (size_t i = 0; i < y.ints.size(); ++i) y.ints.set(i, y.ints[i] == 0 ? 1 : 0);
      return y;
    }
    case Op::Neg:
    case Op::Sqrt: {
      Tensor y = in(0);
      if (n.op == Op::Sqrt && !is_float(y.type)) fail("Sqrt of integers");
      for (float& v : y.f32) v = n.op == Op::Neg ? -v : std::sqrt(v);
      for (size_t i = 0; i < y.ints.size(); ++i) y.ints[i] = -y.ints[i];
      return y;
    }
    case Op::QuantizeLinear: {
      const Tensor& x = in(0);
      const auto& q = n.attr<QuantAttrs>();
      const auto dt = to_dtype(q.qtype);
      if (!is_float(x.type) || !dt)
        fail("QuantizeLinear of a constant needs float input and an integer type");
      int64_t inner = 1;
      const auto axis = q.per_tensor() ? -1 : this->axis(q.axis, x.shape.size());
      if (axis >= 0) {
        for (size_t d = static_cast<size_t>(axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
        if (static_cast<int64_t>(q.scale.size()) != x.shape[static_cast<size_t>(axis)])
          fail(fmt::format("{} scales for {} channels", q.scale.size(), x.shape[static_cast<size_t>(axis)]));
      }
      Tensor y;
      y.shape = x.shape;
      y.type = q.qtype;
      for (int64_t i = 0; i < x.elements(); ++i) {
        const size_t c = axis < 0 ? 0 : static_cast<size_t>((i / inner) % x.shape[static_cast<size_t>(axis)]);
        y.ints.push_back(quantize_linear(x.f32[static_cast<size_t>(i)], q.scale[c],
                                         static_cast<int32_t>(q.zero_point[c]), *dt));
      }
      return y;
    }
    default: fail("cannot be evaluated at compile time");
  }
}

}  // namespace const_eval_detail

using const_eval_detail::Eval;

bool can_const_eval(const Graph& g, const Node& n) {
  if (!evaluable(n.op)) return false;
  if (n.op == Op::Shape) return !n.inputs.empty() && g.has(n.input(0));
  if (n.op == Op::Reshape && std::get<ReshapeAttrs>(n.attrs).target_pending) return false;
  return std::all_of(n.inputs.begin(), n.inputs.end(),
                     [&](const std::string& i) { return i.empty() || g.constant(i) != nullptr; });
}

Tensor const_eval(const Graph& g, const Node& n) {
  Tensor y = Eval{g, n}.run();
  y.name = n.outputs[0];
  y.is_const = true;
  if (y.elements() > (int64_t{1} << 28)) g.fail(n, "folded constant is too large");
  return y;
}

}  // namespace tpusim::compiler
