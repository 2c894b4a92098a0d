#include "compiler/shape_infer.h"

#include <fmt/format.h>

#include "base/error.h"
#include "compiler/canonicalize.h"
#include "compiler/rearrange.h"

namespace tpusim::compiler {

namespace {

struct Infer {
  Graph& g;
  const Node& n;

  const Tensor& in(size_t i) const { return g.tensor(n.input(i)); }
  std::string desc(size_t i) const { return fmt::format("'{}' {}", n.input(i), shape_str(in(i).shape)); }
  [[noreturn]] void fail(const std::string& msg) const { g.fail(n, msg); }
  void want_float(size_t i) const {
    if (in(i).type != ElemType::F32)
      fail(fmt::format("input '{}' is {}, expected float32 (is a DequantizeLinear missing?)", n.input(i),
                       elem_type_name(in(i).type)));
  }
  void want_rank(size_t i, size_t r, const char* what) const {
    if (in(i).shape.size() != r)
      fail(fmt::format("{} {} has rank {}, expected {}", what, desc(i), in(i).shape.size(), r));
  }
  void set(Shape s, ElemType t) const {
    Tensor& o = g.tensor(n.outputs[0]);
    o.shape = std::move(s);
    o.type = t;
  }
};

int64_t out_dim(const Infer& c, int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad0,
                int64_t pad1, const char* axis) {
  if (k <= 0 || stride <= 0 || dil <= 0 || pad0 < 0 || pad1 < 0)
    c.fail(
        fmt::format("kernel, strides and dilations must be positive and pads non-negative ({} axis)", axis));
  const int64_t span = dil * (k - 1) + 1;
  const int64_t o = (in + pad0 + pad1 - span) / stride + 1;
  if (in + pad0 + pad1 < span)
    c.fail(fmt::format("kernel extent {} exceeds the padded input {} {}", span, axis, in + pad0 + pad1));
  return o;
}

// auto_pad SAME_*: the output is ceil(in / stride); the padding that needs is split in two, the
// odd one at the end (SAME_UPPER) or the start (SAME_LOWER).
void same_pads(std::array<int64_t, 4>& pads, AutoPad& mode, const Shape& x, const std::array<int64_t, 2>& k,
               const std::array<int64_t, 2>& s, const std::array<int64_t, 2>& d) {
  if (mode == AutoPad::NotSet) return;
  for (int i = 0; i < 2; ++i) {
    if (s[i] <= 0 || d[i] <= 0 || k[i] <= 0) return;  // out_dim reports it
    const int64_t in = x[2 + i], out = (in + s[i] - 1) / s[i];
    const int64_t total = std::max<int64_t>(0, (out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - in);
    const int64_t small = total / 2, big = total - small;
    pads[i] = mode == AutoPad::SameUpper ? small : big;
    pads[i + 2] = mode == AutoPad::SameUpper ? big : small;
  }
  mode = AutoPad::NotSet;
}

void conv(const Infer& c, Node& n) {
  c.want_float(0);
  c.want_float(1);
  c.want_rank(0, 4, "input");
  c.want_rank(1, 4, "weight");
  auto& a = n.attr<ConvAttrs>();
  const Shape& x = c.in(0).shape;
  const Shape& w = c.in(1).shape;
  if (a.group <= 0 || x[1] % a.group != 0 || w[0] % a.group != 0)
    c.fail(fmt::format("group {} must divide the input channels {} and output channels {}", a.group, x[1],
                       w[0]));
  if (w[1] * a.group != x[1]) {
    if (a.group == 1)
      c.fail(fmt::format("weight '{}' has {} input channels, input has {}", n.input(1), w[1], x[1]));
    c.fail(fmt::format("weight '{}' has {} input channels per group ({} groups), input has {}", n.input(1),
                       w[1], a.group, x[1]));
  }
  for (int k = 0; k < 2; ++k) {
    if (a.kernel[k] == 0) a.kernel[k] = w[2 + k];
    if (a.kernel[k] != w[2 + k])
      c.fail(fmt::format("kernel_shape {}x{} does not match weight '{}' {}", a.kernel[0], a.kernel[1],
                         n.input(1), shape_str(w)));
  }
  if (!n.input(2).empty()) {
    c.want_float(2);
    if (c.in(2).shape != Shape{w[0]})
      c.fail(fmt::format("bias {} does not match the {} output channels", c.desc(2), w[0]));
  }
  same_pads(a.pads, a.auto_pad, x, a.kernel, a.strides, a.dilations);
  const int64_t oh = out_dim(c, x[2], a.kernel[0], a.strides[0], a.dilations[0], a.pads[0], a.pads[2], "H");
  const int64_t ow = out_dim(c, x[3], a.kernel[1], a.strides[1], a.dilations[1], a.pads[1], a.pads[3], "W");
  c.set({x[0], w[0], oh, ow}, ElemType::F32);
}

// ceil_mode=1 as extra bottom/right padding: the output size rounds up, except that the last
// window must start inside the input or its top/left padding (as PyTorch and ONNX Runtime do).
void ceil_mode_pads(const Infer& c, PoolAttrs& a, const Shape& x, bool is_avg) {
  for (int k = 0; k < 2; ++k) {
    const int64_t in = x[2 + k] + a.pads[k] + a.pads[k + 2];
    if (in < a.kernel[k] || a.strides[k] <= 0) return;  // out_dim reports it
    int64_t out = (in - a.kernel[k] + a.strides[k] - 1) / a.strides[k] + 1;
    if ((out - 1) * a.strides[k] >= x[2 + k] + a.pads[k]) --out;
    const int64_t extra = (out - 1) * a.strides[k] + a.kernel[k] - in;
    if (extra > 0 && is_avg && a.count_include_pad)
      c.fail("ceil_mode=1 with count_include_pad=1 and a window past the padding is not supported");
    if (extra > 0) a.pads[k + 2] += extra;
  }
  a.ceil_mode = false;
}

void pool(const Infer& c, Node& n) {
  c.want_float(0);
  c.want_rank(0, 4, "input");
  auto& a = n.attr<PoolAttrs>();
  const Shape& x = c.in(0).shape;
  same_pads(a.pads, a.auto_pad, x, a.kernel, a.strides, {1, 1});
  if (a.ceil_mode) ceil_mode_pads(c, a, x, n.op == Op::AveragePool);
  for (int k = 0; k < 2; ++k)
    if (a.pads[k] >= a.kernel[k] || a.pads[k + 2] >= a.kernel[k])
      c.fail(fmt::format("pads {} must be smaller than the kernel {}x{}",
                         shape_str({a.pads.begin(), a.pads.end()}), a.kernel[0], a.kernel[1]));
  const int64_t oh = out_dim(c, x[2], a.kernel[0], a.strides[0], 1, a.pads[0], a.pads[2], "H");
  const int64_t ow = out_dim(c, x[3], a.kernel[1], a.strides[1], 1, a.pads[1], a.pads[3], "W");
  c.set({x[0], x[1], oh, ow}, ElemType::F32);
}

void gemm(const Infer& c, const Node& n) {
  const auto& a = n.attr<GemmAttrs>();
  c.want_float(0);
  c.want_float(1);
  c.want_rank(0, 2, "A");
  c.want_rank(1, 2, "B");
  const Shape& A = c.in(0).shape;
  const Shape& B = c.in(1).shape;
  const int64_t m = a.trans_a ? A[1] : A[0], ka = a.trans_a ? A[0] : A[1];
  const int64_t kb = a.trans_b ? B[1] : B[0], nn = a.trans_b ? B[0] : B[1];
  if (ka != kb)
    c.fail(fmt::format("A {} (transA={}) and B {} (transB={}) disagree on K: {} vs {}", c.desc(0),
                       int(a.trans_a), c.desc(1), int(a.trans_b), ka, kb));
  if (!n.input(2).empty()) {
    c.want_float(2);
    const Shape& C = c.in(2).shape;
    const auto b = broadcast_shapes(C, {m, nn});
    if (C.size() > 2 || !b || *b != Shape{m, nn})
      c.fail(fmt::format("C {} does not broadcast to the output [{}, {}]", c.desc(2), m, nn));
  }
  c.set({m, nn}, ElemType::F32);
}

void matmul(const Infer& c) {
  c.want_float(0);
  c.want_float(1);
  const Shape& A = c.in(0).shape;
  const Shape& B = c.in(1).shape;
  if (A.size() < 2 || B.size() < 2)
    c.fail(fmt::format("A {} and B {} must have rank >= 2", c.desc(0), c.desc(1)));
  if (B.size() != 2 && B.size() != A.size())
    c.fail(fmt::format("B {} must be 2-D or have A's rank {}", c.desc(1), A.size()));
  if (B.size() == A.size() && !std::equal(A.begin(), A.end() - 2, B.begin()))
    c.fail(fmt::format("A {} and B {} have different batch dimensions", c.desc(0), c.desc(1)));
  if (A.back() != B[B.size() - 2])
    c.fail(fmt::format("A {} and B {} disagree on K: {} vs {}", c.desc(0), c.desc(1), A.back(),
                       B[B.size() - 2]));
  Shape o = A;
  o.back() = B.back();
  c.set(o, ElemType::F32);
}

int64_t norm_axis(const Infer& c, int64_t axis, size_t rank, bool inclusive) {
  const auto r = static_cast<int64_t>(rank);
  const int64_t a = axis < 0 ? axis + r : axis;
  if (a < 0 || a > r || (!inclusive && a == r))
    c.fail(fmt::format("axis {} is out of range for rank {}", axis, rank));
  return a;
}

void reshape(const Infer& c, const Node& n) {
  const auto& a = n.attr<ReshapeAttrs>();
  const Shape& x = c.in(0).shape;
  Shape o = a.target;
  int infer = -1;
  for (size_t i = 0; i < o.size(); ++i) {
    if (o[i] == 0 && !a.allowzero) {
      if (i >= x.size())
        c.fail(fmt::format("target {} copies dimension {} the input {} lacks", shape_str(a.target), i,
                           c.desc(0)));
      o[i] = x[i];
    } else if (o[i] == -1) {
      if (infer >= 0) c.fail(fmt::format("target {} has more than one -1", shape_str(a.target)));
      infer = static_cast<int>(i);
    } else if (o[i] < 0) {
      c.fail(fmt::format("target {} has a negative dimension", shape_str(a.target)));
    }
  }
  const int64_t total = num_elements(x);
  if (infer >= 0) {
    o[infer] = 1;
    const int64_t rest = num_elements(o);
    if (rest == 0 || total % rest != 0)
      c.fail(fmt::format("cannot reshape input {} to {}", c.desc(0), shape_str(a.target)));
    o[infer] = total / rest;
  }
  if (num_elements(o) != total)
    c.fail(fmt::format("cannot reshape input {} ({} elements) to {}", c.desc(0), total, shape_str(o)));
  c.set(o, c.in(0).type);
}

void per_channel(const Infer& c, const Node& n, size_t first, size_t last) {
  c.want_float(0);
  const Shape& x = c.in(0).shape;
  if (x.size() < 2) c.fail(fmt::format("input {} must have rank >= 2", c.desc(0)));
  for (size_t i = first; i <= last; ++i) {
    c.want_float(i);
    if (c.in(i).shape != Shape{x[1]})
      c.fail(
          fmt::format("parameter {} does not match the {} channels of input {}", c.desc(i), x[1], c.desc(0)));
  }
  c.set(x, ElemType::F32);
  (void)n;
}

void concat(const Infer& c, Node& n) {
  const Tensor& t0 = c.in(0);
  auto& a = n.attr<ConcatAttrs>();
  a.axis = norm_axis(c, a.axis, t0.shape.size(), false);
  Shape o = t0.shape;
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    const Tensor& t = c.in(i);
    bool ok = t.shape.size() == o.size() && t.type == t0.type;
    for (size_t d = 0; ok && d < o.size(); ++d) ok = d == static_cast<size_t>(a.axis) || t.shape[d] == o[d];
    if (!ok) c.fail(fmt::format("input {} does not match {} outside axis {}", c.desc(i), c.desc(0), a.axis));
    o[a.axis] += t.shape[a.axis];
  }
  c.set(o, t0.type);
}

void quant(const Infer& c, Node& n) {
  auto& a = n.attr<QuantAttrs>();
  const Tensor& x = c.in(0);
  if (n.op == Op::QuantizeLinear) {
    c.want_float(0);
  } else {
    if (x.type == ElemType::F32 || x.type == ElemType::I64)
      c.fail(fmt::format("input '{}' is {}, expected an int8/uint8/int4/uint4/int32 tensor", n.input(0),
                         elem_type_name(x.type)));
    if (a.zero_point.empty()) {
      a.qtype = x.type;
      a.zero_point.assign(a.scale.size(), 0);
    } else if (a.qtype != x.type) {
      c.fail(fmt::format("input '{}' is {} but its zero point is {}", n.input(0), elem_type_name(x.type),
                         elem_type_name(a.qtype)));
    }
  }
  if (!a.per_tensor()) {
    a.axis = norm_axis(c, a.axis, x.shape.size(), false);
    if (static_cast<int64_t>(a.scale.size()) != x.shape[a.axis])
      c.fail(fmt::format("{} scales along axis {}, input {} has {} there", a.scale.size(), a.axis, c.desc(0),
                         x.shape[a.axis]));
  }
  c.set(x.shape, n.op == Op::QuantizeLinear ? a.qtype : ElemType::F32);
}

// Constant Pad of a 4-D tensor along H and W (what fold_pad folds); pads from the attribute
// (opset < 11) or the constant input.
void pad(const Infer& c, const Node& n) {
  const auto& a = n.attr<OnnxAttrs>();
  c.want_float(0);
  c.want_rank(0, 4, "input");
  std::vector<int64_t> p;
  if (const auto* v = a.find_ints("pads")) {
    p = *v;
  } else {
    const Tensor* t = n.inputs.size() > 1 ? c.g.constant(n.input(1)) : nullptr;
    if (!t || is_float(t->type)) c.fail("pads must be a constant integer tensor");
    p = t->ints;
  }
  if (n.inputs.size() > 3 && !n.input(3).empty()) c.fail("the axes input is not supported");
  if (p.size() != 8) c.fail(fmt::format("pads has {} values, expected 8 (4-D input)", p.size()));
  if (p[0] || p[1] || p[4] || p[5]) c.fail("padding along N or C is not supported");
  for (int64_t v : p)
    if (v < 0) c.fail("negative pads (cropping) are not supported");
  const Shape& x = c.in(0).shape;
  c.set({x[0], x[1], x[2] + p[2] + p[6], x[3] + p[3] + p[7]}, ElemType::F32);
}

}  // namespace

void infer_node(Graph& g, Node& n) {
  const Infer c{g, n};
  switch (n.op) {
    case Op::Conv: return conv(c, n);
    case Op::MaxPool:
    case Op::AveragePool: return pool(c, n);
    case Op::GlobalAveragePool: {
      c.want_float(0);
      c.want_rank(0, 4, "input");
      const Shape& x = c.in(0).shape;
      return c.set({x[0], x[1], 1, 1}, ElemType::F32);
    }
    case Op::Gemm: return gemm(c, n);
    case Op::MatMul: return matmul(c);
    case Op::Relu:
    case Op::Clip: c.want_float(0); return c.set(c.in(0).shape, ElemType::F32);
    case Op::Add:
    case Op::Mul: {
      c.want_float(0);
      c.want_float(1);
      const auto b = broadcast_shapes(c.in(0).shape, c.in(1).shape);
      if (!b) c.fail(fmt::format("inputs {} and {} cannot be broadcast together", c.desc(0), c.desc(1)));
      return c.set(*b, ElemType::F32);
    }
    case Op::Flatten: {
      const Shape& x = c.in(0).shape;
      auto& a = n.attr<FlattenAttrs>();
      a.axis = norm_axis(c, a.axis, x.size(), true);
      const int64_t outer = num_elements(Shape(x.begin(), x.begin() + a.axis));
      return c.set({outer, num_elements(x) / std::max<int64_t>(outer, 1)}, c.in(0).type);
    }
    case Op::Reshape: return reshape(c, n);
    case Op::BatchNormalization: return per_channel(c, n, 1, 4);
    case Op::ChannelAffine: return per_channel(c, n, 1, 2);
    case Op::Concat: return concat(c, n);
    case Op::QuantizeLinear:
    case Op::DequantizeLinear: return quant(c, n);
    case Op::Pad: return pad(c, n);
    case Op::Softmax: return infer_softmax(g, n);
    case Op::LayerNormalization: return infer_layer_norm(g, n);
    case Op::Rearrange: {
      Shape o;
      try {
        o = rearrange_shape(n.attr<RearrangeAttrs>(), c.in(0).shape);
      } catch (const Error& e) {
        c.fail(fmt::format("{}: {}", c.desc(0), e.what()));
      }
      return c.set(o, c.in(0).type);
    }
    case Op::ChannelGather: {
      const Shape& x = c.in(0).shape;
      if (x.size() < 2) c.fail(fmt::format("input {} must have rank >= 2", c.desc(0)));
      Shape o = x;
      o[1] = static_cast<int64_t>(n.attr<GatherAttrs>().channels.size());
      for (int64_t ch : n.attr<GatherAttrs>().channels)
        if (ch < 0 || ch >= x[1]) c.fail(fmt::format("channel {} is out of range for {}", ch, c.desc(0)));
      return c.set(o, c.in(0).type);
    }
    case Op::Sigmoid:
    case Op::HardSigmoid:
    case Op::HardSwish:
    case Op::Tanh:
    case Op::LeakyRelu:
    case Op::Elu:
    case Op::Exp:
    case Op::Erf:
    case Op::Softplus:
    case Op::Gelu:
    case Op::Silu: c.want_float(0); return c.set(c.in(0).shape, ElemType::F32);
    default: c.fail(why_left(n));
  }
}

void infer_shapes(Graph& g) {
  for (Node& n : g.nodes) infer_node(g, n);
}

}  // namespace tpusim::compiler
