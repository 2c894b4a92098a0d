// Quantized lowering, constants: weights from DequantizeLinear, biases in accumulator units, and
// the requant tail (multipliers and clamps).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "compiler/lower_internal.h"
#include "quant/quantize.h"

namespace tpusim::compiler::lowering {

QuantWeight quantized_weight(const Graph& g, const Node& user, const std::string& name, int64_t out_axis,
                             int64_t channels) {
  const Node* dq = g.producer(name);
  if (!dq || dq->op != Op::DequantizeLinear) {
    if (const Tensor* c = g.constant(name); c && is_float(c->type))
      g.fail(user,
             fmt::format("weight '{}' is float32: a quantized graph needs DequantizeLinear of an int8/int4 "
                         "constant",
                         name));
    g.fail(user,
           fmt::format("weight '{}' is not DequantizeLinear of a constant (weights must be constant)", name));
  }
  const Tensor* q = g.constant(dq->input(0));
  if (!q)
    g.fail(user, fmt::format(
                     "weight '{}' is DequantizeLinear '{}' of the non-constant tensor '{}': weights must be "
                     "constant",
                     name, dq->name, dq->input(0)));
  // The MAC array multiplies int8/int4 weights without a zero point: a constant weight's integer is
  // q - zero_point, taken as is whenever it fits the 8- or 4-bit type of the container (uint8 at
  // zero point 128 is the usual case; ConvInteger's uint8 weights at zero point 0 with values <= 127
  // another).
  QuantWeight w;
  switch (q->type) {
    case ElemType::I8:
    case ElemType::U8: w.dtype = DType::Int8; break;
    case ElemType::I4:
    case ElemType::U4: w.dtype = DType::Int4; break;
    default:
      g.fail(user, fmt::format("weight '{}' is {}: weights must be int8, uint8, int4 or uint4", name,
                               elem_type_name(q->type)));
  }
  const auto& a = dq->attr<QuantAttrs>();
  if (!a.per_tensor() && a.axis != out_axis)
    g.fail(
        user,
        fmt::format("weight '{}' is quantized along axis {}: expected per tensor or per output channel (axis "
                    "{})",
                    name, a.axis, out_axis));
  int64_t inner = 1;  // elements per step of the quantization axis
  if (!a.per_tensor())
    for (size_t d = static_cast<size_t>(a.axis) + 1; d < q->shape.size(); ++d) inner *= q->shape[d];
  const DTypeTraits& t = traits(w.dtype);
  w.q.reserve(q->ints.size());
  for (size_t i = 0; i < q->ints.size(); ++i) {
    const size_t c = a.per_tensor() ? 0 : (i / static_cast<size_t>(inner)) % a.zero_point.size();
    const int64_t v = q->ints[i] - a.zero_point[c];
    if (v < t.qmin || v > t.qmax)
      g.fail(user,
             fmt::format("weight '{}': value {} - zero point {} = {} (channel {}, DequantizeLinear '{}') "
                         "does not fit {}: the MAC array's weights are symmetric {} integers",
                         name, q->ints[i], a.zero_point[c], v, c, dq->name, t.name, t.name));
    w.q.push_back(static_cast<int8_t>(v));
  }
  w.scale = a.per_tensor() ? std::vector<float>(static_cast<size_t>(channels), a.scale[0]) : a.scale;
  return w;
}

ConstValues constant_values(const Graph& g, const Node& user, const std::string& name) {
  ConstValues cv;
  if (const Tensor* t = g.constant(name)) {
    if (!is_float(t->type))
      g.fail(user,
             fmt::format("constant '{}' is {}: expected float32 or DequantizeLinear of an integer constant",
                         name, elem_type_name(t->type)));
    cv.shape = t->shape;
    cv.real.assign(t->f32.begin(), t->f32.end());
    for (double v : cv.real)  // a bias or affine constant of NaN/inf has no integer form
      if (!std::isfinite(v))
        g.fail(user, fmt::format("constant '{}' holds {}: expected finite values", name, v));
    return cv;
  }
  const Node* dq = g.producer(name);
  const Tensor* q = dq && dq->op == Op::DequantizeLinear ? g.constant(dq->input(0)) : nullptr;
  if (!q)
    g.fail(user,
           fmt::format("input '{}' must be a constant (float, or DequantizeLinear of a constant)", name));
  const auto& a = dq->attr<QuantAttrs>();
  int64_t inner = 1;
  if (!a.per_tensor())
    for (size_t d = static_cast<size_t>(a.axis) + 1; d < q->shape.size(); ++d) inner *= q->shape[d];
  cv.shape = q->shape;
  for (size_t i = 0; i < q->ints.size(); ++i) {
    const size_t c = a.per_tensor() ? 0 : (i / static_cast<size_t>(inner)) % a.scale.size();
    // The float value the model computes with (DequantizeLinear in float).
    cv.real.push_back(dequantize_linear(static_cast<int32_t>(q->ints[i]), a.scale[c],
                                        static_cast<int32_t>(a.zero_point[c])));
  }
  if (q->type == ElemType::I32 && q->shape.size() <= 1) {
    cv.q = q->ints;
    cv.q_scale = a.scale;
  }
  return cv;
}

ConstValues per_channel(const Graph& g, const Node& user, const ConstValues& c, const Shape& out,
                        int64_t axis) {
  const auto rank = static_cast<int64_t>(out.size()), crank = static_cast<int64_t>(c.shape.size());
  bool ok = crank <= rank;
  bool has_axis = false;
  for (int64_t d = 0; ok && d < crank; ++d) {
    const int64_t od = rank - crank + d;  // numpy broadcasting aligns the trailing dimensions
    if (c.shape[d] == 1) continue;
    ok = od == axis && c.shape[d] == out[axis];
    has_axis = has_axis || ok;
  }
  if (!ok)
    g.fail(user, fmt::format("constant {} is not a per-channel bias of the output {} (channel axis {})",
                             shape_str(c.shape), shape_str(out), axis));
  ConstValues r = c;
  r.shape = {has_axis ? out[axis] : 1};
  if (r.q.size() != r.real.size()) r.q.clear();  // a multi-dimensional int32 constant: no exact path
  return r;
}

std::vector<int64_t> bias_units(const ConstValues& b, const std::vector<double>& acc_scale,
                                const std::vector<float>& exact_scale, double beta) {
  std::vector<int64_t> r(acc_scale.size());
  for (size_t c = 0; c < acc_scale.size(); ++c) {
    const size_t i = b.real.size() == 1 ? 0 : c;
    if (!b.q.empty() && beta == 1.0 && !exact_scale.empty()) {
      // An int32 bias already at float(s_in * s_w[c]) (how exporters write it): no re-rounding.
      const float qs = b.q_scale.size() == 1 ? b.q_scale[0] : b.q_scale[i];
      if (qs == exact_scale[c]) {
        r[c] = b.q[i];
        continue;
      }
    }
    // Round half to even, as ONNX QuantizeLinear and numpy's round (which exporters use) do.
    const double v = std::nearbyint(beta * b.real[i] / acc_scale[c]);
    r[c] = static_cast<int64_t>(std::clamp(v, -0x1p62, 0x1p62));  // saturated to int32 later, counted
  }
  return r;
}

std::vector<int32_t> saturate_bias(const std::vector<int64_t>& bias, int64_t& saturated) {
  std::vector<int32_t> r;
  for (int64_t v : bias) {
    r.push_back(sat_int32(v));
    saturated += r.back() != v;
  }
  return r;
}

RequantSpec requant_spec(const std::vector<double>& acc_scale, const QParams& q, float lo, float hi) {
  RequantSpec rq;
  for (double s : acc_scale) rq.mult.push_back(make_multiplier(s / static_cast<double>(q.scale)));
  const bool uniform = std::all_of(rq.mult.begin(), rq.mult.end(), [&](const Multiplier& m) {
    return m.m0 == rq.mult[0].m0 && m.shift == rq.mult[0].shift;
  });
  if (uniform) rq.mult.resize(1);  // per-tensor fields, no table
  rq.out_zp = q.zero_point;
  // ReLU/Clip as clamps: quantizing is monotonic, so Q(clip(x, lo, hi)) = clamp(Q(x), Q(lo), Q(hi))
  // exactly, with Q the ONNX QuantizeLinear of the output (saturating, round half to even).
  const DTypeTraits& t = traits(q.dtype);
  rq.clamp_lo =
      lo == -INFINITY ? static_cast<int32_t>(t.qmin) : quantize_linear(lo, q.scale, q.zero_point, q.dtype);
  rq.clamp_hi =
      hi == INFINITY ? static_cast<int32_t>(t.qmax) : quantize_linear(hi, q.scale, q.zero_point, q.dtype);
  return rq;
}

}  // namespace tpusim::compiler::lowering
