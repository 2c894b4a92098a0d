// Activation and weight quantizer modules: state (ranges, steps, alpha) as parameters and buffers,
// forward() dispatching to the fake-quant function of the algorithm.
#include "qat/quantizer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "qat/fake_quant.h"

namespace tpusim::qat {

namespace {

QuantSpec checked_spec(const std::string& tensor, const QuantSpec& spec) {
  try {
    spec.validate();
  } catch (const Error& e) {
    throw Error(fmt::format("quantizer '{}': {}", tensor, e.what()));
  }
  return spec;
}

// Pact and Dorefa clip at 0: without a ReLU in front (signed tensor) they fall back to Ema.
Algo effective_act_algo(Algo a, const QuantSpec& spec) {
  if (spec.is_signed && (a == Algo::Pact || a == Algo::Dorefa)) return Algo::Ema;
  return a;
}

void fill(const torch::Tensor& t, double v) {
  torch::NoGradGuard no_grad;
  t.fill_(v);
}

// A float alpha whose alpha / qmax (float division, as pact_quant computes it) is exactly `scale`
// when one exists near scale * qmax, else the nearest.
float pact_alpha_for_scale(float scale, int32_t qmax) {
  const auto q = static_cast<float>(qmax);
  float alpha = scale * q;
  for (int i = 0; i < 4 && alpha / q != scale; ++i)
    alpha = std::nextafter(alpha, alpha / q < scale ? std::numeric_limits<float>::infinity() : 0.0f);
  return alpha;
}

}  // namespace

// ---- ActQuantizer ----

ActQuantizerImpl::ActQuantizerImpl(std::string tensor_name, Algo algo, QuantSpec spec,
                                   ObserverOptions observer, bool symmetric)
    : name_(std::move(tensor_name)),
      algo_(effective_act_algo(algo, spec)),
      spec_(checked_spec(name_, spec)),
      obs_opt_(observer),
      force_symmetric_(symmetric) {
  if (!(obs_opt_.ema_decay >= 0 && obs_opt_.ema_decay <= 1))
    throw Error(fmt::format("quantizer '{}': EMA decay {} must lie in [0, 1]", name_, obs_opt_.ema_decay));
  observer_ = std::make_unique<RangeObserver>(name_, obs_opt_);
  switch (algo_) {
    case Algo::Ema:
    case Algo::Fixed:
      // double: set_params() stores a range whose params_from_range() is exactly the given grid.
      lo_ = register_buffer("lo", torch::zeros({1}, torch::kDouble));
      hi_ = register_buffer("hi", torch::zeros({1}, torch::kDouble));
      break;
    case Algo::Lsq: step_ = register_parameter("step", torch::ones({1})); break;
    case Algo::Pact: step_ = register_parameter("alpha", torch::ones({1})); break;
    case Algo::Dorefa: return;  // a fixed grid: no state
  }
  init_ = register_buffer("initialized", torch::zeros({1}));
}

void ActQuantizerImpl::set_mode(QuantMode m) { mode_ = m; }

bool ActQuantizerImpl::initialized() const { return algo_ == Algo::Dorefa || init_.item<double>() != 0; }

double ActQuantizerImpl::lsq_grad_scale(const torch::Tensor& x) const {
  return 1.0 / std::sqrt(static_cast<double>(features_per_example(x)) * spec_.qmax());
}

int64_t ActQuantizerImpl::features_per_example(const torch::Tensor& x) {
  return x.dim() == 0 || x.size(0) == 0 ? 1 : std::max<int64_t>(1, x.numel() / x.size(0));
}

std::pair<double, double> ActQuantizerImpl::batch_range(const torch::Tensor& x) const {
  if (x.numel() == 0) throw Error(fmt::format("quantizer '{}': empty batch", name_));
  const torch::Tensor d = x.detach();
  const double lo = d.min().item<double>(), hi = d.max().item<double>();
  if (!std::isfinite(lo) || !std::isfinite(hi))
    throw Error(fmt::format("quantizer '{}': non-finite value in the batch (range [{}, {}])", name_, lo, hi));
  return {lo, hi};
}

void ActQuantizerImpl::initialize_from(const torch::Tensor& x) {
  const double qmax = spec_.qmax();
  if (algo_ == Algo::Lsq) {
    const double mean_abs = x.detach().abs().to(torch::kDouble).mean().item<double>();
    if (!std::isfinite(mean_abs))
      throw Error(fmt::format("quantizer '{}': non-finite value in the batch", name_));
    fill(step_, std::max(2 * mean_abs / std::sqrt(qmax), static_cast<double>(kMinScale)));
  } else if (algo_ == Algo::Pact) {
    fill(step_, std::max(batch_range(x).second, kMinScale * qmax));
  } else if (algo_ == Algo::Fixed) {
    throw Error(
        fmt::format("quantizer '{}': fixed (PTQ) quantizer used before calibrate() or set_params()", name_));
  }
  fill(init_, 1);
}

void ActQuantizerImpl::update_ema(const torch::Tensor& x) {
  const auto [lo, hi] = batch_range(x);
  if (!initialized()) {
    fill(lo_, lo);
    fill(hi_, hi);
    fill(init_, 1);
    return;
  }
  const double d = obs_opt_.ema_decay;
  fill(lo_, d * lo_.item<double>() + (1 - d) * lo);
  fill(hi_, d * hi_.item<double>() + (1 - d) * hi);
}

torch::Tensor ActQuantizerImpl::forward(const torch::Tensor& x) {
  if (mode_ == QuantMode::Off) return x;
  if (mode_ == QuantMode::Observe) {
    const torch::Tensor flat = x.detach().to(torch::kCPU, torch::kFloat).contiguous();
    observer_->observe({flat.data_ptr<float>(), static_cast<size_t>(flat.numel())});
    return x;
  }
  const int64_t qmax = spec_.qmax();
  switch (algo_) {
    case Algo::Dorefa: return dorefa_activation(x, qmax);
    case Algo::Lsq:
      if (!initialized()) initialize_from(x);
      return lsq_quant(x, step_, spec_.qmin(), qmax, lsq_grad_scale(x));
    case Algo::Pact:
      if (!initialized()) initialize_from(x);
      return pact_quant(x, step_, qmax);
    case Algo::Ema:
      if (is_training() || !initialized()) update_ema(x);
      break;
    case Algo::Fixed:
      if (!initialized()) initialize_from(x);  // throws: nothing to initialise from
      break;
  }
  const QuantParams p = params();
  const auto opts = x.options().requires_grad(false);
  return fake_quant_ste(x, torch::full({1}, p.scale, opts), torch::full({1}, p.zero_point, opts),
                        spec_.qmin(), qmax);
}

void ActQuantizerImpl::calibrate(const CalibOptions& opt) { calibrate_from(*observer_, opt); }

void ActQuantizerImpl::calibrate_from(const RangeObserver& observer, const CalibOptions& opt) {
  if (observer.count() == 0)
    throw Error(
        fmt::format("quantizer '{}': calibrate() before any batch was observed (QuantMode::Observe)", name_));
  if (algo_ == Algo::Dorefa)
    throw Error(fmt::format("quantizer '{}': the dorefa grid is fixed and cannot be calibrated", name_));
  CalibOptions o = opt;
  if (zero_point_pinned()) o.symmetric = true;  // only Fixed holds any zero point
  set_params(tpusim::calibrate(observer, spec_, o));
}

bool ActQuantizerImpl::symmetric() const {
  return force_symmetric_ || !spec_.is_signed || algo_ == Algo::Lsq || algo_ == Algo::Pact;
}

void ActQuantizerImpl::set_params(const QuantParams& p) {
  if (p.spec.bits != spec_.bits || p.spec.is_signed != spec_.is_signed || p.spec.narrow != spec_.narrow)
    throw Error(fmt::format("quantizer '{}': parameters for a {}-bit {} grid, the quantizer has {} bits {}",
                            name_, p.spec.bits, p.spec.is_signed ? "signed" : "unsigned", spec_.bits,
                            spec_.is_signed ? "signed" : "unsigned"));
  if (!std::isfinite(p.scale) || p.scale <= 0)
    throw Error(fmt::format("quantizer '{}': scale {} must be finite and positive", name_, p.scale));
  if (p.zero_point < spec_.qmin() || p.zero_point > spec_.qmax())
    throw Error(fmt::format("quantizer '{}': zero point {} outside [{}, {}]", name_, p.zero_point,
                            spec_.qmin(), spec_.qmax()));
  if (algo_ == Algo::Dorefa)
    throw Error(fmt::format("quantizer '{}': the dorefa grid is fixed (scale 1/{})", name_, spec_.qmax()));
  if (zero_point_pinned() && p.zero_point != 0)
    throw Error(fmt::format("quantizer '{}': a {} quantizer on this grid is symmetric, got zero point {}",
                            name_, qat::name(algo_), p.zero_point));
  const double s = p.scale, zp = p.zero_point;
  if (algo_ == Algo::Lsq) {
    fill(step_, s);
  } else if (algo_ == Algo::Pact) {
    fill(step_, pact_alpha_for_scale(p.scale, spec_.qmax()));
  } else if (range_from_zero()) {  // [0, qmax * s]
    fill(lo_, 0);
    fill(hi_, spec_.qmax() * s);
  } else {  // the grid's own range: exact in double, so params_from_range gives back (scale, zp)
    fill(lo_, (spec_.qmin() - zp) * s);
    fill(hi_, (spec_.qmax() - zp) * s);
  }
  fill(init_, 1);
}

QuantParams ActQuantizerImpl::params() const {
  if (!initialized())
    throw Error(
        fmt::format("quantizer '{}' ({}): no parameters yet (needs a Quantize batch, calibrate() or "
                    "set_params())",
                    name_, qat::name(algo_)));
  const auto qmax = static_cast<float>(spec_.qmax());
  QuantParams p{1.0f, 0, spec_};
  switch (algo_) {
    case Algo::Dorefa: p.scale = 1.0f / qmax; break;
    case Algo::Lsq: p.scale = step_.item<float>(); break;
    case Algo::Pact: p.scale = step_.item<float>() / qmax; break;
    case Algo::Ema:
    case Algo::Fixed:
      return params_from_range(lo_.item<double>(), hi_.item<double>(), spec_, range_from_zero());
  }
  if (!std::isfinite(p.scale) || p.scale <= 0)
    throw Error(fmt::format("quantizer '{}': learned {} went to {} (scale must stay positive)", name_,
                            algo_ == Algo::Pact ? "alpha" : "step", step_.item<float>()));
  return p;
}

torch::Tensor ActQuantizerImpl::regularizer(double lambda) const {
  if (algo_ != Algo::Pact) return torch::zeros({});
  return lambda * step_.square().sum();
}

// ---- WeightQuantizer ----

WeightQuantizerImpl::WeightQuantizerImpl(std::string tensor_name, Algo algo, QuantSpec spec,
                                         int64_t out_channels)
    : name_(std::move(tensor_name)), algo_(algo), spec_(checked_spec(name_, spec)), channels_(out_channels) {
  if (!spec_.is_signed) throw Error(fmt::format("weights '{}': weight grids are signed (symmetric)", name_));
  if (channels_ <= 0) throw Error(fmt::format("weights '{}': {} output channels", name_, channels_));
  if (algo_ == Algo::Lsq) {
    step_ = register_parameter("step", torch::ones({channels_}));
    init_ = register_buffer("initialized", torch::zeros({1}));
  }
}

void WeightQuantizerImpl::set_mode(QuantMode m) { mode_ = m; }

void WeightQuantizerImpl::check_shape(const torch::Tensor& w) const {
  if (w.dim() < 1 || w.size(0) != channels_)
    throw Error(fmt::format("weights '{}': shape {} does not start with the {} output channels", name_,
                            fmt::join(w.sizes(), "x"), channels_));
}

torch::Tensor WeightQuantizerImpl::max_abs_scales(const torch::Tensor& w) const {
  torch::NoGradGuard no_grad;
  // scale_c = max|w_c| / qmax in double, rounded once to float (isa per_channel_weight_scales).
  const torch::Tensor amax = w.detach().abs().reshape({channels_, -1}).amax(1).to(torch::kDouble);
  if (!torch::isfinite(amax).all().item<bool>())
    throw Error(fmt::format("weights '{}': non-finite weight", name_));
  return (amax / spec_.qmax()).to(torch::kFloat).clamp_min(kMinScale);
}

torch::Tensor WeightQuantizerImpl::quantize_forward(const torch::Tensor& w) {
  check_shape(w);
  const int64_t qmax = spec_.qmax();
  if (algo_ == Algo::Dorefa) return dorefa_weight(w, qmax);
  if (algo_ == Algo::Lsq) {
    if (init_.item<double>() == 0) {
      // Esser et al.: s_c = 2<|w_c|> / sqrt(Qp).
      const torch::Tensor mean_abs = w.detach().abs().reshape({channels_, -1}).to(torch::kDouble).mean(1);
      torch::NoGradGuard no_grad;
      step_.copy_((2 * mean_abs / std::sqrt(static_cast<double>(qmax))).clamp_min(kMinScale));
      init_.fill_(1);
    }
    return lsq_quant(w, step_, spec_.qmin(), qmax, lsq_grad_scale(w), 0);
  }
  const torch::Tensor s = max_abs_scales(w);
  return fake_quant_ste(w, s, torch::zeros_like(s), spec_.qmin(), qmax, 0);
}

double WeightQuantizerImpl::lsq_grad_scale(const torch::Tensor& w) const {
  return 1.0 / std::sqrt(static_cast<double>(w.numel() / channels_) * spec_.qmax());
}

torch::Tensor WeightQuantizerImpl::forward(const torch::Tensor& w) {
  if (mode_ != QuantMode::Quantize) return w;  // Observe: weights need no observer (scales from max|w|)
  return quantize_forward(w);
}

WeightQuantizerImpl::Quantized WeightQuantizerImpl::quantize(const torch::Tensor& w) {
  Quantized out;
  torch::Tensor scales;
  {
    torch::NoGradGuard no_grad;
    out.values = quantize_forward(w).detach();
  }
  if (algo_ == Algo::Dorefa)
    scales = torch::full({channels_}, 1.0f / static_cast<float>(spec_.qmax()));
  else if (algo_ == Algo::Lsq)
    scales = step_.detach();
  else
    scales = max_abs_scales(w);
  scales = scales.to(torch::kCPU, torch::kFloat).contiguous();
  out.scales.assign(scales.data_ptr<float>(), scales.data_ptr<float>() + channels_);
  for (float s : out.scales)
    if (!std::isfinite(s) || s <= 0)
      throw Error(fmt::format("weights '{}': learned step went to {} (scale must stay positive)", name_, s));
  return out;
}

}  // namespace tpusim::qat
