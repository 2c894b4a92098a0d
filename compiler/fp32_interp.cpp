#include "compiler/fp32_interp.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "compiler/fold_batchnorm.h"
#include "compiler/fp32_kernels.h"
#include "compiler/pointwise.h"
#include "compiler/rearrange.h"
#include "isa/numerics.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

namespace k = kernels;

namespace {

struct Run {
  const Graph& g;
  TensorMap vals;

  const Tensor& get(const std::string& name) const {
    auto it = vals.find(name);
    if (it != vals.end()) return it->second;
    return g.tensor(name);  // a constant
  }
  const float* fp(const Node& n, size_t i) const {
    return n.input(i).empty() ? nullptr : get(n.input(i)).f32.data();
  }
  const Shape& sh(const Node& n, size_t i) const { return get(n.input(i)).shape; }

  void quant(const Node& n, const Tensor& x, Tensor& y) const {
    const auto& a = n.attr<QuantAttrs>();
    const int64_t total = x.elements();
    const int64_t C = a.per_tensor() ? 1 : x.shape[a.axis];
    int64_t inner = 1;
    if (!a.per_tensor())
      for (size_t d = static_cast<size_t>(a.axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
    if (n.op == Op::QuantizeLinear) {
      const DType dt = *to_dtype(a.qtype);
      y.ints.resize(static_cast<size_t>(total));
      for (int64_t i = 0; i < total; ++i) {
        const int64_t c = C == 1 ? 0 : (i / inner) % C;
        y.ints[i] = quantize_linear(x.f32[i], a.scale[c], static_cast<int32_t>(a.zero_point[c]), dt);
      }
    } else {
      y.f32.resize(static_cast<size_t>(total));
      for (int64_t i = 0; i < total; ++i) {
        const int64_t c = C == 1 ? 0 : (i / inner) % C;
        y.f32[i] = dequantize_linear(static_cast<int32_t>(x.ints[i]), a.scale[c],
                                     static_cast<int32_t>(a.zero_point[c]));
      }
    }
  }

  void concat(const Node& n, Tensor& y) const {
    const int64_t axis = n.attr<ConcatAttrs>().axis;
    const int64_t outer = num_elements(Shape(y.shape.begin(), y.shape.begin() + axis));
    const int64_t inner = num_elements(Shape(y.shape.begin() + axis + 1, y.shape.end()));
    const int64_t ycols = y.shape[axis] * inner;
    int64_t at = 0;
    for (const std::string& in : n.inputs) {
      const Tensor& x = get(in);
      const int64_t cols = x.shape[axis] * inner;
      for (int64_t o = 0; o < outer; ++o) {
        if (is_float(y.type))
          std::copy_n(x.f32.begin() + o * cols, cols, y.f32.begin() + o * ycols + at);
        else
          for (int64_t k = 0; k < cols; ++k)
            y.ints[static_cast<size_t>(o * ycols + at + k)] = x.ints[static_cast<size_t>(o * cols + k)];
      }
      at += cols;
    }
  }

  // Outputs 2 and 3 (mean, 1/std), when asked for, beside y.
  void layer_norm(const Node& n, const Tensor& x, Tensor& y) {
    Tensor stats[2];
    for (size_t i = 0; i < 2; ++i)
      if (n.outputs.size() > i + 1 && !n.outputs[i + 1].empty()) {
        stats[i] = g.tensor(n.outputs[i + 1]);
        stats[i].is_const = false;
        stats[i].f32.assign(static_cast<size_t>(stats[i].elements()), 0.0f);
      }
    const bool has_scale = !n.input(1).empty(), has_bias = n.inputs.size() > 2 && !n.input(2).empty();
    k::layer_norm(x.f32.data(), x.shape, n.attr<LayerNormAttrs>(), has_scale ? fp(n, 1) : nullptr,
                  has_scale ? sh(n, 1) : Shape{}, has_bias ? fp(n, 2) : nullptr,
                  has_bias ? sh(n, 2) : Shape{}, y.f32.data(),
                  stats[0].f32.empty() ? nullptr : stats[0].f32.data(),
                  stats[1].f32.empty() ? nullptr : stats[1].f32.data());
    for (Tensor& s : stats)
      if (!s.name.empty()) vals[s.name] = std::move(s);
    vals[y.name] = std::move(y);
  }

  void exec(const Node& n) {
    Tensor y = g.tensor(n.outputs[0]);  // shape and type from shape inference
    y.is_const = false;
    const int64_t total = y.elements();
    if (is_float(y.type) && n.op != Op::DequantizeLinear) y.f32.assign(static_cast<size_t>(total), 0.0f);
    if (!is_float(y.type) && n.op != Op::QuantizeLinear) y.ints.assign(static_cast<size_t>(total), 0);
    float* out = y.f32.data();
    const Tensor& x = get(n.input(0));
    switch (n.op) {
      case Op::Conv:
        k::conv2d(fp(n, 0), sh(n, 0), fp(n, 1), sh(n, 1), fp(n, 2), n.attr<ConvAttrs>(), out, y.shape);
        break;
      case Op::Gemm:
        k::gemm(fp(n, 0), sh(n, 0), fp(n, 1), sh(n, 1), fp(n, 2), n.input(2).empty() ? Shape{} : sh(n, 2),
                n.attr<GemmAttrs>(), out);
        break;
      case Op::MatMul: k::matmul(fp(n, 0), sh(n, 0), fp(n, 1), sh(n, 1), out); break;
      case Op::Relu:
        for (int64_t i = 0; i < total; ++i) out[i] = std::max(x.f32[i], 0.0f);
        break;
      case Op::Clip: {
        const auto& a = n.attr<ClipAttrs>();
        for (int64_t i = 0; i < total; ++i) out[i] = std::min(std::max(x.f32[i], a.min), a.max);
        break;
      }
      case Op::MaxPool: k::max_pool(x.f32.data(), x.shape, n.attr<PoolAttrs>(), out, y.shape); break;
      case Op::AveragePool: k::avg_pool(x.f32.data(), x.shape, n.attr<PoolAttrs>(), out, y.shape); break;
      case Op::GlobalAveragePool: k::global_avg_pool(x.f32.data(), x.shape, out); break;
      case Op::Add:
      case Op::Mul:
        k::binary(n.op == Op::Add ? k::Binary::Add : k::Binary::Mul, fp(n, 0), sh(n, 0), fp(n, 1), sh(n, 1),
                  out, y.shape);
        break;
      case Op::Flatten:
      case Op::Reshape:
        y.f32 = x.f32;
        y.ints = x.ints;
        break;
      case Op::BatchNormalization: {
        std::vector<float> s, t;
        batchnorm_coefficients(get(n.input(1)), get(n.input(2)), get(n.input(3)), get(n.input(4)),
                               n.attr<BatchNormAttrs>().epsilon, s, t);
        k::channel_affine(x.f32.data(), x.shape, s.data(), t.data(), out);
        break;
      }
      case Op::ChannelAffine: k::channel_affine(x.f32.data(), x.shape, fp(n, 1), fp(n, 2), out); break;
      case Op::Concat: concat(n, y); break;
      case Op::Softmax: k::softmax(x.f32.data(), x.shape, n.attr<SoftmaxAttrs>(), out); break;
      case Op::LayerNormalization: layer_norm(n, x, y); return;
      case Op::QuantizeLinear:
      case Op::DequantizeLinear: quant(n, x, y); break;
      case Op::ChannelGather: {
        const auto& ch = n.attr<GatherAttrs>().channels;
        const int64_t C = x.shape[1], inner = x.elements() / (x.shape[0] * C), Co = y.shape[1];
        for (int64_t b = 0; b < x.shape[0]; ++b)
          for (int64_t c = 0; c < Co; ++c)
            std::copy_n(x.f32.begin() + (b * C + ch[static_cast<size_t>(c)]) * inner, inner,
                        y.f32.begin() + (b * Co + c) * inner);
        break;
      }
      case Op::Rearrange: {
        const StridedView v = rearrange_view(n.attr<RearrangeAttrs>(), x.shape);
        if (is_float(x.type)) {
          copy_view(v, x.f32.data(), y.f32.data());
        } else {  // an integer tensor moved between QuantizeLinear and DequantizeLinear
          const std::vector<int64_t> in = x.ints.vec();
          std::vector<int64_t> out(static_cast<size_t>(total));
          copy_view(v, in.data(), out.data());
          y.ints = out;
        }
        break;
      }
      default:
        if (is_pointwise(n.op)) {
          for (int64_t i = 0; i < total; ++i)
            out[i] = static_cast<float>(pointwise(n.op, n.attr<PointwiseAttrs>(), x.f32[i]));
          break;
        }
        g.fail(n, "has no FP32 kernel (canonicalization should have removed it)");
    }
    vals[y.name] = std::move(y);
  }
};

Tensor checked_input(const Graph& g, const std::string& name, const TensorMap& inputs) {
  auto it = inputs.find(name);
  if (it == inputs.end()) g.fail(fmt::format("input '{}' was not given", name));
  const Tensor& want = g.tensor(name);
  Tensor t = it->second;
  const size_t have = is_float(t.type) ? t.f32.size() : t.ints.size();
  if (t.type != want.type)
    g.fail(fmt::format("input '{}' is {}, the model expects {}", name, elem_type_name(t.type),
                       elem_type_name(want.type)));
  if (static_cast<int64_t>(have) != want.elements())
    g.fail(fmt::format("input '{}' has {} elements, the model expects {} {}", name, have,
                       shape_str(want.shape), want.elements()));
  t.name = name;
  t.shape = want.shape;
  t.is_const = false;
  return t;
}

}  // namespace

TensorMap run_fp32(const Graph& g, const TensorMap& inputs) {
  Run r{g, {}};
  for (const std::string& in : g.inputs) r.vals[in] = checked_input(g, in, inputs);
  for (const Node& n : g.nodes) r.exec(n);
  return std::move(r.vals);
}

}  // namespace tpusim::compiler
