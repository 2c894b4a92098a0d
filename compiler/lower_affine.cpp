// Quantized lowering of ChannelGather (end of file), and of ChannelAffine, BatchNormalization and
// Add/Mul by a constant (y = x * s[c] + t[c]: a
// BatchNormalization with nothing to fold into, as DenseNet's pre-activation blocks have) as a 1x1 depthwise
// IConv. Each channel's weight is the int8 code +-127 (or 0) at scale |s[c]| / 127, which represents s[c]
// exactly up to float rounding; t[c] becomes the int32 bias. So the only roundings are the bias's and the
// output requant's, as for any convolution. A Mul by a positive scalar of a tensor that is not 4-D
// (attention's q / sqrt(d)) is a requant whose accumulator scale carries the scalar; a quantized
// constant that varies along more than the channels is left to eltwise (a constant activation).
#include <fmt/format.h>

#include <cmath>

#include "compiler/fold_batchnorm.h"
#include "compiler/lower_internal.h"
#include "compiler/shape_infer.h"

namespace tpusim::compiler::lowering {

void Lowerer::channel_affine(const Node& n) {
  const Shape& ys = g.tensor(n.outputs[0]).shape;
  if (ys.size() != 4) g.fail(n, fmt::format("output {} must be 4-D (NCHW)", shape_str(ys)));
  const int64_t C = ys[1];
  ConstValues s, t;
  if (n.op == Op::BatchNormalization) {  // in a QDQ graph, nothing to fold it into
    auto param = [&](size_t i) -> const Tensor& {
      const Tensor* p = g.constant(n.input(i));
      if (!p || p->type != ElemType::F32)
        g.fail(n, fmt::format("parameter '{}' must be a float constant", n.input(i)));
      return *p;
    };
    std::vector<float> sf, tf;
    batchnorm_coefficients(param(1), param(2), param(3), param(4), n.attr<BatchNormAttrs>().epsilon, sf, tf);
    s.real.assign(sf.begin(), sf.end());
    t.real.assign(tf.begin(), tf.end());
  } else {
    s = constant_values(g, n, n.input(1));
    t = constant_values(g, n, n.input(2));
  }
  for (const ConstValues* v : {&s, &t})  // shape inference checked [C]
    if (static_cast<int64_t>(v->real.size()) != C) g.fail(n, fmt::format("expects {} per-channel values", C));
  affine_conv(n, deq_input(n, 0), s, t);
}

bool Lowerer::constant_affine(const Node& n) {
  const bool c0 = is_constant(n.input(0)), c1 = is_constant(n.input(1));
  if (c0 == c1) return false;
  const size_t xi = c0 ? 1 : 0;
  const Shape& ys = g.tensor(n.outputs[0]).shape;
  // A quantized constant that is not one value per channel is an activation (ViT's position
  // embedding): an eltwise with a constant tensor.
  const std::string& k_name = n.input(1 - xi);
  if (!g.constant(k_name) && !channel_operand(g.tensor(k_name).shape, ys)) return false;
  if (ys.size() != 4 && n.op == Op::Mul && g.tensor(n.input(xi)).shape == ys) {
    // x times a positive scalar at any rank (attention's q / sqrt(d)): a requant, exact in the
    // integers (the scalar goes into the accumulator scale).
    const ConstValues k = constant_values(g, n, k_name);
    if (k.real.size() == 1 && std::isfinite(k.real[0]) && k.real[0] > 0) {
      const ITensor& x = deq_input(n, xi);
      values[n.outputs[0]] = start(n, IRequant{x.zero_point}, {x.name}, {x.scale * k.real[0]}, 1);
      return true;
    }
  }
  if (ys.size() != 4 || g.tensor(n.input(xi)).shape != ys)
    g.fail(n,
           fmt::format("a constant operand is supported per channel (or scalar) on a 4-D activation; output "
                       "is {}",
                       shape_str(ys)));
  const ConstValues k = per_channel(g, n, constant_values(g, n, n.input(1 - xi)), ys, 1);
  ConstValues one = k, zero = k;
  std::fill(one.real.begin(), one.real.end(), 1.0);
  std::fill(zero.real.begin(), zero.real.end(), 0.0);
  one.q.clear(), zero.q.clear();
  const bool mul = n.op == Op::Mul;
  affine_conv(n, deq_input(n, xi), mul ? k : one, mul ? zero : k);
  return true;
}

void Lowerer::affine_conv(const Node& n, const ITensor& x, const ConstValues& s, const ConstValues& t) {
  const int64_t C = g.tensor(n.outputs[0]).shape[1];
  IConv c;
  c.w_dtype = DType::Int8;
  const auto qmax = static_cast<int8_t>(traits(DType::Int8).qmax);
  for (int64_t k = 0; k < C; ++k) {
    const double v = s.real[s.real.size() == 1 ? 0 : static_cast<size_t>(k)];
    if (!std::isfinite(v)) g.fail(n, fmt::format("scale of channel {} is not finite", k));
    c.weight.push_back(v > 0 ? qmax : v < 0 ? static_cast<int8_t>(-qmax) : int8_t{0});
    c.w_scale.push_back(v != 0 ? static_cast<float>(std::fabs(v) / qmax) : 1.0f);
  }
  c.groups = C;
  c.in_zp = x.zero_point;
  std::vector<double> acc;
  for (float ws : c.w_scale) acc.push_back(static_cast<double>(x.scale) * ws);
  Pending p = start(n, std::move(c), {x.name}, std::move(acc), 1);
  ConstValues tf = t;  // bias_units reads one value per channel, or one for all
  tf.q.clear();
  p.bias = bias_units(tf, p.acc_scale, {}, 1.0);
  values[n.outputs[0]] = std::move(p);
}

}  // namespace tpusim::compiler::lowering

namespace tpusim::compiler::lowering {

// y = x * k[c] (+ t[c]) on a pending Conv/Gemm/MatMul before any clamp: the scale goes into the
// accumulator's real value (acc_scale[c] * k[c], exact in double; a negative k[c] negates the
// channel's weights and bias), the shift into the bias. What PyTorch's QAT ConvBn modules export:
// Conv -> Div(scale factor) -> Add(bias) -> BatchNormalization, between the Q/DQ pairs.
bool Lowerer::fold_affine_into_pending(const Node& n, const std::vector<double>& k,
                                       const std::vector<double>& t) {
  auto it = values.find(n.input(0));
  if (it == values.end() || !std::holds_alternative<Pending>(it->second)) return false;
  Pending p = std::get<Pending>(it->second);
  if (p.clamped || !(p.op.as<IConv>() || p.op.as<IMatmul>())) return false;
  const size_t C = p.acc_scale.size() == 1 && k.size() > 1 ? k.size() : p.acc_scale.size();
  if (p.acc_scale.size() == 1) p.acc_scale.assign(C, p.acc_scale[0]);
  if (p.bias.empty()) p.bias.assign(C, 0);
  std::vector<int8_t>& w =
      p.op.as<IConv>() ? std::get<IConv>(p.op.kind).weight : std::get<IMatmul>(p.op.kind).weight;
  const size_t per = w.size() / C;
  for (size_t c = 0; c < C; ++c) {
    const double kc = k[k.size() == 1 ? 0 : c];
    if (kc == 0 || !std::isfinite(kc))
      g.fail(n, fmt::format("scales channel {} by {}: cannot be folded", c, kc));
    if (kc < 0) {
      for (size_t i = c * per; i < (c + 1) * per; ++i) {
        if (w[i] == -128) g.fail(n, fmt::format("negative scale on channel {} whose weights hold -128", c));
        w[i] = static_cast<int8_t>(-w[i]);
      }
      p.bias[c] = -p.bias[c];
    }
    p.acc_scale[c] *= std::fabs(kc);
    if (!t.empty())
      p.bias[c] += static_cast<int64_t>(std::nearbyint(t[t.size() == 1 ? 0 : c] / p.acc_scale[c]));
  }
  p.exact_bias_scale.clear();  // an int32 bias is no longer at float(s_in * s_w)
  p.op.sources.push_back(n.name);
  values[n.outputs[0]] = std::move(p);
  return true;
}

bool Lowerer::fold_scale(const Node& n) {
  if (n.op == Op::Mul) {
    if (!is_constant(n.input(1)) || is_constant(n.input(0))) return false;
    auto it = values.find(n.input(0));
    if (it == values.end() || !std::holds_alternative<Pending>(it->second)) return false;
    const Pending& p = std::get<Pending>(it->second);
    const ConstValues k =
        per_channel(g, n, constant_values(g, n, n.input(1)), g.tensor(n.outputs[0]).shape, p.channel_axis);
    return fold_affine_into_pending(n, k.real, {});
  }
  // BatchNormalization
  std::vector<float> s, t;
  for (size_t i = 1; i <= 4; ++i)
    if (!g.constant(n.input(i))) return false;
  batchnorm_coefficients(*g.constant(n.input(1)), *g.constant(n.input(2)), *g.constant(n.input(3)),
                         *g.constant(n.input(4)), n.attr<BatchNormAttrs>().epsilon, s, t);
  return fold_affine_into_pending(n, {s.begin(), s.end()}, {t.begin(), t.end()});
}

}  // namespace tpusim::compiler::lowering

namespace tpusim::compiler::lowering {

// ChannelGather (a channel shuffle or Slice) and Rearrange: an IGather or IRearrange, GDMA copies
// on the input's grid, so its
// output is exactly a dequantized tensor with the input's parameters (no QuantizeLinear needed).
void Lowerer::gather(const Node& n) {
  const ITensor& x = deq_input(n, 0);
  const std::string& y = n.outputs[0];
  const QParams q = params(x);
  const std::string in = x.name;
  add_tensor(y, g.tensor(y).shape, q, y);
  if (n.op == Op::Rearrange)
    add_op(IOp{n.name, {n.name}, {in}, y, IRearrange{rearrange_view(n.attr<RearrangeAttrs>(), x.shape)}, {}});
  else
    add_op(IOp{n.name, {n.name}, {in}, y, IGather{n.attr<GatherAttrs>().channels}, {}});
  values[y] = Deq{y};
}

}  // namespace tpusim::compiler::lowering
