// The QAT fake-quant functions. Every forward computes the quotient as a float division x / scale
// (not x * (1 / scale)), rounds half to even (torch::round) and clamps, exactly as
// tpusim::fake_quantize does, so the values match the integer hardware bit for bit.
#include "qat/fake_quant.h"

#include <fmt/format.h>

#include <limits>
#include <vector>

#include "base/error.h"
#include "qat/fake_quant_fused.h"

namespace tpusim::qat {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

// `p` (one element, or one per index of `axis`) shaped to broadcast against x, in x's dtype and
// device (a double scale must not promote a float quotient).
torch::Tensor broadcast_param(const torch::Tensor& p, const torch::Tensor& x, int64_t axis, const char* fn,
                              const char* what) {
  const torch::Tensor q = p.to(x.device(), x.scalar_type());
  if (axis < 0) {
    if (p.numel() != 1)
      throw Error(fmt::format("{}: per-tensor {} must have one element, got {} (pass the channel axis)", fn,
                              what, p.numel()));
    return q.reshape({});
  }
  if (axis >= x.dim() || p.numel() != x.size(axis))
    throw Error(fmt::format("{}: {} has {} elements but x has {} dimensions{} (axis {})", fn, what, p.numel(),
                            x.dim(), axis < x.dim() ? fmt::format(", size {} on the axis", x.size(axis)) : "",
                            axis));
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[static_cast<size_t>(axis)] = -1;
  return q.reshape(shape);
}

// Sum of g over every dimension but `axis` (all of them when axis < 0), shaped like `param`.
torch::Tensor reduce_to_param(const torch::Tensor& g, const torch::Tensor& param, int64_t axis) {
  if (axis < 0) return g.sum().reshape(param.sizes()).to(param.scalar_type());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d != axis) dims.push_back(d);
  torch::Tensor r = dims.empty() ? g : g.sum(dims);
  return r.reshape(param.sizes()).to(param.scalar_type());
}

struct SteFn : torch::autograd::Function<SteFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& s,
                               const torch::Tensor& zp, int64_t qmin, int64_t qmax) {
    if (s.dim() == 0 && fused::applies(x)) {
      torch::Tensor mask;
      torch::Tensor y = fused::ste_forward(x, s.item<float>(), zp.item<float>(), qmin, qmax, mask);
      ctx->save_for_backward({mask});
      return y;
    }
    const torch::Tensor unclamped = torch::round(x / s) + zp;
    // Clipped STE: the gradient passes where saturation did not change the integer.
    ctx->save_for_backward({(unclamped >= qmin).logical_and_(unclamped <= qmax)});
    const torch::Tensor q = torch::clamp(unclamped, static_cast<double>(qmin), static_cast<double>(qmax));
    return (q - zp) * s;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const torch::Tensor mask = ctx->get_saved_variables()[0];
    if (fused::applies(grad[0]) && grad[0].sizes() == mask.sizes())
      return {fused::masked(grad[0], mask), {}, {}, {}, {}};
    return {grad[0] * mask, {}, {}, {}, {}};
  }
};

struct LsqFn : torch::autograd::Function<LsqFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& s,
                               int64_t qmin, int64_t qmax, double grad_scale, int64_t axis) {
    const torch::Tensor sb = broadcast_param(s, x, axis, "lsq_quant", "step");
    ctx->save_for_backward({x, s});
    ctx->saved_data["qmin"] = qmin;
    ctx->saved_data["qmax"] = qmax;
    ctx->saved_data["grad_scale"] = grad_scale;
    ctx->saved_data["axis"] = axis;
    if (axis < 0 && fused::applies(x)) return fused::lsq_forward(x, sb.item<float>(), qmin, qmax);
    return torch::clamp(torch::round(x / sb), static_cast<double>(qmin), static_cast<double>(qmax)) * sb;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &s = saved[1];
    const int64_t qmin = ctx->saved_data["qmin"].toInt(), qmax = ctx->saved_data["qmax"].toInt();
    const int64_t axis = ctx->saved_data["axis"].toInt();
    if (axis < 0 && fused::applies(x) && fused::applies(grad[0])) {
      torch::Tensor dx;
      const float step = broadcast_param(s, x, axis, "lsq_quant", "step").item<float>();
      const double sum = fused::lsq_backward(x, grad[0], step, qmin, qmax, dx);
      const torch::Tensor ds =
          torch::full(s.sizes(), sum * ctx->saved_data["grad_scale"].toDouble(), s.options());
      return {dx, ds, {}, {}, {}, {}};
    }
    const torch::Tensor v = x / broadcast_param(s, x, axis, "lsq_quant", "step");
    const torch::Tensor below = v <= qmin, above = v >= qmax;
    const torch::Tensor inside = below.logical_or(above).logical_not_();
    // Esser et al. eq. 3: round(v) - v inside the grid, the saturated level outside.
    const torch::Tensor dv = torch::where(inside, torch::round(v) - v,
                                          torch::where(below, torch::full_like(v, static_cast<double>(qmin)),
                                                       torch::full_like(v, static_cast<double>(qmax))));
    const torch::Tensor ds =
        reduce_to_param(grad[0] * dv, s, axis) * ctx->saved_data["grad_scale"].toDouble();
    return {grad[0] * inside, ds, {}, {}, {}, {}};
  }
};

struct PactFn : torch::autograd::Function<PactFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& alpha,
                               int64_t qmax) {
    const torch::Tensor a = broadcast_param(alpha, x, -1, "pact_quant", "alpha");
    ctx->save_for_backward({x, alpha});
    // clip(x, 0, alpha) then quantize equals quantize then clamp to [0, qmax]: alpha / (alpha / qmax)
    // rounds to qmax. The clamp form is the one the hardware (and tpusim::fake_quantize) uses.
    const torch::Tensor s = a / static_cast<double>(qmax);
    if (fused::applies(x)) return fused::lsq_forward(x, s.item<float>(), 0, qmax);
    return torch::clamp(torch::round(x / s), 0.0, static_cast<double>(qmax)) * s;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &alpha = saved[1];
    const torch::Tensor a = broadcast_param(alpha, x, -1, "pact_quant", "alpha");
    const torch::Tensor clipped = x >= a;
    const torch::Tensor pass = (x >= 0).logical_and_(clipped.logical_not());
    return {grad[0] * pass, reduce_to_param(grad[0] * clipped, alpha, -1), {}};
  }
};

void check_grid(const char* fn, int64_t qmin, int64_t qmax) {
  if (qmin > 0 || qmax < 1 || qmin >= qmax)
    throw Error(fmt::format("{}: integer grid [{}, {}] must contain 0 and 1", fn, qmin, qmax));
}

}  // namespace

torch::Tensor fake_quant_ste(const torch::Tensor& x, const torch::Tensor& scale,
                             const torch::Tensor& zero_point, int64_t qmin, int64_t qmax, int64_t axis) {
  check_grid("fake_quant_ste", qmin, qmax);
  const torch::Tensor s = broadcast_param(scale, x, axis, "fake_quant_ste", "scale");
  const torch::Tensor zp = broadcast_param(zero_point, x, axis, "fake_quant_ste", "zero point");
  return SteFn::apply(x, s.detach(), zp.detach(), qmin, qmax);
}

torch::Tensor lsq_quant(const torch::Tensor& x, const torch::Tensor& s, int64_t qmin, int64_t qmax,
                        double grad_scale, int64_t axis) {
  check_grid("lsq_quant", qmin, qmax);
  broadcast_param(s, x, axis, "lsq_quant", "step");  // shape errors here, not inside autograd
  return LsqFn::apply(x, s, qmin, qmax, grad_scale, axis);
}

torch::Tensor pact_quant(const torch::Tensor& x, const torch::Tensor& alpha, int64_t qmax) {
  check_grid("pact_quant", 0, qmax);
  broadcast_param(alpha, x, -1, "pact_quant", "alpha");
  return PactFn::apply(x, alpha, qmax);
}

torch::Tensor dorefa_weight(const torch::Tensor& w, int64_t qmax) {
  check_grid("dorefa_weight", -qmax, qmax);
  const torch::Tensor t = torch::tanh(w);
  // All-zero weights would divide 0 by 0; the floor keeps them at 0.
  const torch::Tensor wn = t / t.abs().max().clamp_min(std::numeric_limits<float>::min());
  const torch::Tensor s = torch::full({}, 1.0f / static_cast<float>(qmax), w.options());
  return fake_quant_ste(wn, s, torch::zeros({}, w.options()), -qmax, qmax);
}

torch::Tensor dorefa_activation(const torch::Tensor& x, int64_t qmax) {
  check_grid("dorefa_activation", 0, qmax);
  // clamp's gradient is the STE mask of [0, 1]; inside it fake_quant_ste never saturates.
  const torch::Tensor s = torch::full({}, 1.0f / static_cast<float>(qmax), x.options());
  return fake_quant_ste(torch::clamp(x, 0.0, 1.0), s, torch::zeros({}, x.options()), 0, qmax);
}

}  // namespace tpusim::qat
