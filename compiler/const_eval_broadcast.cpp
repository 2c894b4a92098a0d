// The constant evaluator's broadcasting ops (numpy rules): Add, Sub, Mul, Div, Pow, Mod, Equal, Where
// and Expand.
#include <cmath>

#include "compiler/const_eval_internal.h"
#include "compiler/shape_infer.h"

namespace tpusim::compiler::const_eval_detail {

namespace {

double value(const Tensor& t, size_t i) {
  return is_float(t.type) ? t.f32[i] : static_cast<double>(t.ints[i]);
}

}  // namespace

Tensor Eval::binary() const {
  const Tensor &a = in(0), &b = in(1);
  if (a.type != b.type && n.op != Op::Pow)
    fail(fmt::format("inputs are {} and {}", elem_type_name(a.type), elem_type_name(b.type)));
  const auto shape = broadcast_shapes(a.shape, b.shape);
  if (!shape) fail(fmt::format("shapes {} and {} do not broadcast", shape_str(a.shape), shape_str(b.shape)));
  const Shape& y = *shape;
  const auto ys = strides_of(y);
  Tensor r;
  r.shape = y;
  r.type = n.op == Op::Equal ? ElemType::I64 : a.type;  // a boolean as 0/1 (no bool type: constants only)
  const int64_t total = num_elements(y);
  for (int64_t i = 0; i < total; ++i) {
    const size_t ia = broadcast_index(a.shape, y, ys, i), ib = broadcast_index(b.shape, y, ys, i);
    if (n.op == Op::Equal) {
      r.ints.push_back(value(a, ia) == value(b, ib) ? 1 : 0);
    } else if (n.op == Op::Mod) {
      const bool fmod = n.attr<OnnxAttrs>().i("fmod", 0) != 0;
      if (is_float(a.type)) {
        if (!fmod) fail("Mod of floats needs fmod = 1");
        r.f32.push_back(std::fmod(a.f32[ia], b.f32[ib]));
      } else {
        const int64_t x = a.ints[ia], z = b.ints[ib];
        if (z == 0) fail("integer modulo by zero");
        int64_t m = x % z;                                    // the sign of x: ONNX fmod = 1
        if (!fmod && m != 0 && ((m < 0) != (z < 0))) m += z;  // fmod = 0: the sign of the divisor
        r.ints.push_back(m);
      }
    } else if (n.op == Op::Pow) {
      const double p = std::pow(value(a, ia), value(b, ib));
      if (is_float(a.type))
        r.f32.push_back(static_cast<float>(p));
      else
        r.ints.push_back(static_cast<int64_t>(p));
    } else if (is_float(a.type)) {
      const float x = a.f32[ia], z = b.f32[ib];
      r.f32.push_back(n.op == Op::Add ? x + z : n.op == Op::Sub ? x - z : n.op == Op::Mul ? x * z : x / z);
    } else {
      const int64_t x = a.ints[ia], z = b.ints[ib];
      if (n.op == Op::Div && z == 0) fail("integer division by zero");
      r.ints.push_back(n.op == Op::Add ? x + z : n.op == Op::Sub ? x - z : n.op == Op::Mul ? x * z : x / z);
    }
  }
  return r;
}

Tensor Eval::where() const {
  const Tensor &c = in(0), &a = in(1), &b = in(2);
  if (is_float(c.type)) fail("the condition must be boolean");
  if (a.type != b.type)
    fail(fmt::format("inputs are {} and {}", elem_type_name(a.type), elem_type_name(b.type)));
  auto shape = broadcast_shapes(c.shape, a.shape);
  if (shape) shape = broadcast_shapes(*shape, b.shape);
  if (!shape)
    fail(fmt::format("shapes {}, {} and {} do not broadcast", shape_str(c.shape), shape_str(a.shape),
                     shape_str(b.shape)));
  const auto ys = strides_of(*shape);
  Tensor r;
  r.shape = *shape;
  r.type = a.type;
  for (int64_t i = 0; i < num_elements(*shape); ++i) {
    const bool take_a = c.ints[broadcast_index(c.shape, *shape, ys, i)] != 0;
    const Tensor& t = take_a ? a : b;
    const size_t k = broadcast_index(t.shape, *shape, ys, i);
    if (is_float(t.type))
      r.f32.push_back(t.f32[k]);
    else
      r.ints.push_back(t.ints[k]);
  }
  return r;
}

Tensor Eval::expand() const {
  const Tensor& x = in(0);
  const Tensor& s = in(1);
  if (is_float(s.type) || s.shape.size() != 1) fail("the shape input must be a 1-D integer tensor");
  for (int64_t d : s.ints)
    if (d < 0 || d > (int64_t{1} << 24)) fail(fmt::format("dimension {} is out of range", d));
  const auto shape = broadcast_shapes(x.shape, s.ints);
  if (!shape) fail(fmt::format("{} does not broadcast to {}", shape_str(x.shape), shape_str(s.ints)));
  int64_t total = 1;  // checked dimension by dimension: the product of a few 2^24s overflows
  for (int64_t d : *shape)
    if ((total *= d) > (int64_t{1} << 28)) fail("expanded constant is too large");
  const auto ys = strides_of(*shape);
  std::vector<int64_t> src(static_cast<size_t>(num_elements(*shape)));
  for (size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<int64_t>(broadcast_index(x.shape, *shape, ys, static_cast<int64_t>(i)));
  return gather(x, *shape, src);
}

// ONNX ScatterND (reduction none): a copy of data with the slices named by indices [..., k]
// replaced by updates [..., data.shape[k:]].
Tensor Eval::scatter_nd() const {
  const Tensor &d = in(0), &idx = in(1), &up = in(2);
  if (n.attr<OnnxAttrs>().s("reduction", "none") != "none") fail("only reduction 'none' is supported");
  if (is_float(idx.type) || idx.shape.empty()) fail("indices must be an integer tensor of rank >= 1");
  if (up.type != d.type) fail("updates and data have different types");
  const auto k = static_cast<size_t>(idx.shape.back());
  if (k < 1 || k > d.shape.size()) fail(fmt::format("index depth {} for data of rank {}", k, d.shape.size()));
  const int64_t slice = num_elements(Shape(d.shape.begin() + static_cast<std::ptrdiff_t>(k), d.shape.end()));
  const int64_t count = num_elements(idx.shape) / static_cast<int64_t>(k);
  if (num_elements(up.shape) != count * slice) fail("updates do not match indices and data");
  const auto ds = strides_of(d.shape);
  Tensor r = d;
  for (int64_t j = 0; j < count; ++j) {
    int64_t at = 0;
    for (size_t a = 0; a < k; ++a) {
      int64_t v = idx.ints[static_cast<size_t>(j * static_cast<int64_t>(k)) + a];
      if (v < 0) v += d.shape[a];
      if (v < 0 || v >= d.shape[a]) fail(fmt::format("index {} is out of range for dimension {}", v, a));
      at += v * ds[a];
    }
    for (int64_t e = 0; e < slice; ++e) {
      const auto dst = static_cast<size_t>(at + e), src = static_cast<size_t>(j * slice + e);
      if (is_float(d.type))
        r.f32[dst] = up.f32[src];
      else
        r.ints.set(dst, up.ints[src]);
    }
  }
  return r;
}

}  // namespace tpusim::compiler::const_eval_detail
