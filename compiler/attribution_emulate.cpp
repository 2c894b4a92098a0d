// Running the switchable emulation of one integer op (attribution.h; the definitions:
// docs/compare.md, "Attribution").
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "compiler/attribution_internal.h"
#include "isa/numerics.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

std::vector<float> LayerEmulation::Impl::weights(const Sources& s) const {
  const bool r = s[Source::WeightRounding], c = s[Source::WeightClipping], u = s[Source::WeightUpdate];
  if (r && c && u) return w_hw;
  std::vector<float> w = w_fp32;
  for (size_t i = 0; i < w.size(); ++i) {
    const float sc = w_scale[i];
    if (u) w[i] += static_cast<float>(w_delta[i]) * sc;
    if (r && c)
      w[i] = dequantize_linear(quantize_linear(w[i], sc, 0, w_type.type), sc, 0);
    else if (r)
      w[i] = std::nearbyint(w[i] / sc) * sc;
    else if (c)
      w[i] = std::clamp(w[i], static_cast<float>(w_type.qmin) * sc, static_cast<float>(w_type.qmax) * sc);
  }
  return w;
}

std::vector<float> LayerEmulation::run(const std::vector<std::vector<float>>& inputs,
                                       const Sources& s) const {
  const Impl& m = *impl_;
  if (inputs.size() != m.in.size())
    m.fail(fmt::format("{} inputs given, {} expected", inputs.size(), m.in.size()));
  const bool in_on = s[Source::InputRounding] && s[Source::InputClipping];
  const bool w_on =
      s[Source::WeightRounding] && s[Source::WeightClipping] && (!m.updated || s[Source::WeightUpdate]);
  const bool ops_on = in_on && (m.w_name.empty() || w_on) && (m.b_name.empty() || s[Source::BiasRounding]);
  const bool R = s[Source::Requant], M = s[Source::Multiplier] && m.tail, C = s[Source::OutputClipping];
  const auto zp = m.out.zero_point;
  const float so = m.out.scale;
  const DTypeTraits& ot = traits(m.out.dtype);
  const Shape& os = m.out.shape;
  const int64_t n = num_elements(os), cols = os.empty() ? 1 : os.back();
  const int64_t chans = os.size() < 2 ? 1 : os[1],
                inner = os.size() < 2 ? 1 : n / std::max<int64_t>(1, os[0] * chans);
  auto mult = [&](int64_t i) -> const Multiplier& {
    return m.op.rq.at(m.matmul ? i % cols : os.size() < 2 ? 0 : i / inner % chans);
  };
  std::vector<float> y(static_cast<size_t>(n));
  if (ops_on && (R || !(m.tail || m.lut))) {  // the integer op itself
    IntGraph g;
    g.source = m.where;
    IntValues v;
    for (size_t i = 0; i < m.in.size(); ++i) {
      const ITensor& t = m.in[i];
      g.tensors[t.name] = t;
      IntValue& q = v[t.name] = IntValue{t.shape, t.dtype, t.scale, t.zero_point, {}};
      for (float x : inputs[i]) q.data.push_back(quantize_linear(x, t.scale, t.zero_point, t.dtype));
    }
    IOp op = m.op;
    ITensor out = m.out;
    if (m.tail) {  // the accumulator: an identity requant into int32
      out = ITensor{"__attribution_acc", out.shape, DType::Int32, 1.0f, 0, "", "", {}};
      op.output = out.name;
      op.rq = RequantSpec{
          {Multiplier{}}, 0, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    }
    g.tensors[out.name] = out;
    run_int_op(g, op, v);
    const std::vector<int32_t>& acc = v.at(out.name).data;
    if (!m.tail) return dequantize(v.at(out.name));
    const int64_t lo =
        std::isinf(m.act_lo) ? INT64_MIN : zp + static_cast<int64_t>(std::nearbyint(m.act_lo / so));
    const int64_t hi =
        std::isinf(m.act_hi) ? INT64_MAX : zp + static_cast<int64_t>(std::nearbyint(m.act_hi / so));
    for (int64_t i = 0; i < n; ++i) {
      const Multiplier& k = mult(i);
      const int64_t a = acc[static_cast<size_t>(i)];
      int64_t t =
          zp + (M ? round_shift(a * k.m0, k.shift) : static_cast<int64_t>(std::floor(a * k.scale + 0.5)));
      t = C ? std::clamp<int64_t>(t, m.op.rq.clamp_lo, m.op.rq.clamp_hi) : std::clamp(t, lo, hi);
      y[static_cast<size_t>(i)] = static_cast<float>(t - zp) * so;
    }
    return y;
  }
  // The FP32 nodes on the (rounded, clipped) inputs and weights.
  std::vector<std::vector<float>> xs = inputs;
  for (size_t i = 0; i < xs.size(); ++i) {
    const ITensor& t = m.in[i];
    const DTypeTraits& tt = traits(t.dtype);
    const float lo = dequantize_linear(static_cast<int32_t>(tt.qmin), t.scale, t.zero_point),
                hi = dequantize_linear(static_cast<int32_t>(tt.qmax), t.scale, t.zero_point);
    for (float& x : xs[i])
      if (in_on)
        x = dequantize_linear(quantize_linear(x, t.scale, t.zero_point, t.dtype), t.scale, t.zero_point);
      else if (s[Source::InputRounding])
        x = std::nearbyint(x / t.scale) * t.scale;
      else if (s[Source::InputClipping])
        x = std::clamp(x, lo, hi);
  }
  std::vector<float> z;
  if (m.seg.nodes.empty()) {
    z = xs[static_cast<size_t>(std::find(m.fin.begin(), m.fin.end(), m.fout) - m.fin.begin())];
  } else {
    Graph seg = m.seg;
    if (!m.w_name.empty()) seg.tensor(m.w_name).f32 = m.weights(s);
    if (!m.b_name.empty()) seg.tensor(m.b_name).f32 = s[Source::BiasRounding] ? m.b_q : m.b_fp32;
    TensorMap feed;
    for (const std::string& name : m.seg_inputs) {
      const size_t i = static_cast<size_t>(std::find(m.fin.begin(), m.fin.end(), name) - m.fin.begin());
      feed[name] = make_f32(name, seg.tensor(name).shape, xs[i]);
    }
    z = run_fp32(seg, feed).at(m.fout).f32;
  }
  if (!(m.tail || m.lut) || (!R && !M && !C)) return z;
  const float qlo = dequantize_linear(static_cast<int32_t>(ot.qmin), so, zp),
              qhi = dequantize_linear(static_cast<int32_t>(ot.qmax), so, zp);
  for (int64_t i = 0; i < n; ++i) {
    const double k = M ? std::ldexp(static_cast<double>(mult(i).m0), -mult(i).shift) / mult(i).scale : 1.0;
    const double v = static_cast<double>(z[static_cast<size_t>(i)]) * k;
    float& out = y[static_cast<size_t>(i)];
    if (R) {
      double t = zp + std::floor(v / so + 0.5);
      if (C) t = std::clamp<double>(t, static_cast<double>(ot.qmin), static_cast<double>(ot.qmax));
      out = static_cast<float>(t - zp) * so;
    } else {
      out = C ? std::clamp(static_cast<float>(v), qlo, qhi) : static_cast<float>(v);
    }
  }
  return y;
}

}  // namespace tpusim::compiler
