// Quantized lowering of ChannelAffine, BatchNormalization and Add/Mul by a constant (y = x * s[c] + t[c]: a
// BatchNormalization with nothing to fold into, as DenseNet's pre-activation blocks have) as a 1x1 depthwise
// IConv. Each channel's weight is the int8 code +-127 (or 0) at scale |s[c]| / 127, which represents s[c]
// exactly up to float rounding; t[c] becomes the int32 bias. So the only roundings are the bias's and the
// output requant's, as for any convolution.
#include <fmt/format.h>

#include <cmath>

#include "compiler/fold_batchnorm.h"
#include "compiler/lower_internal.h"

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
