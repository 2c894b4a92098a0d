// Quantization grids and parameters from a range, per-channel weight scales, and the
// rounding/clipping error report.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "isa/numerics.h"
#include "quant/calibration.h"
#include "quant/quantize.h"

namespace tpusim {

void QuantSpec::validate() const {
  if (bits < 2 || bits > 8) throw Error(fmt::format("quantization spec: {} bits (must be 2..8)", bits));
  if (narrow && !is_signed) throw Error("quantization spec: narrow range applies to signed grids only");
}

QuantSpec QuantSpec::of(DType t, bool narrow) {
  if (t == DType::Int32) throw Error("quantization spec: int32 is not a calibration target");
  QuantSpec s{tpusim::bits(t), traits(t).is_signed, narrow};
  s.validate();
  return s;
}

QuantParams params_from_range(double lo, double hi, const QuantSpec& spec, bool symmetric) {
  spec.validate();
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
    throw Error(fmt::format("quantization range [{}, {}] must be finite with lo <= hi", lo, hi));
  lo = std::min(lo, 0.0);  // 0 must be representable (zero padding, ReLU): the range includes it
  hi = std::max(hi, 0.0);
  const double qmin = spec.qmin(), qmax = spec.qmax();
  QuantParams p{1.0f, 0, spec};
  if (symmetric) {
    const double amax = spec.is_signed ? std::max(-lo, hi) : hi;
    p.scale = std::max(static_cast<float>(amax / qmax), kMinScale);
  } else {
    p.scale = std::max(static_cast<float>((hi - lo) / (qmax - qmin)), kMinScale);
    // lo <= 0 puts qmin - lo/scale in [qmin, qmax] up to rounding; the clamp only guards that.
    p.zero_point = static_cast<int32_t>(std::clamp(std::round(qmin - lo / p.scale), qmin, qmax));
  }
  // Every grid value must dequantize to a float: a range near FLT_MAX (found by fuzz_calibration)
  // would otherwise put the grid's ends at +-inf.
  const double reach = double(p.scale) * std::max(p.zero_point - qmin, qmax - p.zero_point);
  if (!(reach <= std::numeric_limits<float>::max()))
    throw Error(
        fmt::format("quantization range [{}, {}] is too wide: its {}-bit grid reaches {:g}, beyond float32",
                    lo, hi, spec.bits, reach));
  return p;
}

int32_t quantize_value(float x, const QuantParams& p) {
  const int32_t q = quantize_linear(x, p.scale, p.zero_point, p.spec.storage());
  return std::clamp(q, p.spec.qmin(), p.spec.qmax());
}

float fake_quantize(float x, const QuantParams& p) {
  return dequantize_linear(quantize_value(x, p), p.scale, p.zero_point);
}

std::vector<float> per_channel_weight_scales(std::span<const float> weights, int64_t out_channels,
                                             const QuantSpec& spec, std::string_view tensor_name) {
  spec.validate();
  if (!spec.is_signed)
    throw Error(fmt::format("weights '{}': per-channel weight scales need a signed grid", tensor_name));
  if (out_channels <= 0 || weights.size() % static_cast<uint64_t>(out_channels) != 0)
    throw Error(fmt::format("weights '{}': {} elements do not split into {} output channels", tensor_name,
                            weights.size(), out_channels));
  const size_t per_channel = weights.size() / static_cast<size_t>(out_channels);
  std::vector<float> scales(static_cast<size_t>(out_channels));
  for (size_t c = 0; c < scales.size(); ++c) {
    double amax = 0;
    for (size_t i = c * per_channel; i < (c + 1) * per_channel; ++i) {
      if (!std::isfinite(weights[i]))
        throw Error(
            fmt::format("weights '{}': non-finite value {} at element {}", tensor_name, weights[i], i));
      amax = std::max(amax, std::fabs(static_cast<double>(weights[i])));
    }
    scales[c] = params_from_range(-amax, amax, spec, true).scale;
  }
  return scales;
}

QuantErrorReport quantization_error(std::span<const float> x, const QuantParams& p,
                                    std::string_view tensor_name) {
  p.spec.validate();
  QuantErrorReport r;
  r.count = x.size();
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]))
      throw Error(fmt::format("error report of tensor '{}': non-finite value {} at element {}", tensor_name,
                              x[i], i));
    const int32_t q = quantize_value(x[i], p);
    const double err = static_cast<double>(x[i]) - dequantize_linear(q, p.scale, p.zero_point);
    // The unsaturated integer, rounded exactly as quantize_linear does (float quotient, half to even).
    const double unclamped = static_cast<double>(std::nearbyint(x[i] / p.scale)) + p.zero_point;
    const bool clipped = unclamped < p.spec.qmin() || unclamped > p.spec.qmax();
    (clipped ? r.clipping_mse : r.rounding_mse) += err * err;
    r.clipped += clipped ? 1 : 0;
    r.signal_power += static_cast<double>(x[i]) * x[i];
  }
  if (r.count > 0) {
    const auto n = static_cast<double>(r.count);
    r.rounding_mse /= n;
    r.clipping_mse /= n;
    r.signal_power /= n;
  }
  r.sqnr_db = r.total_mse() > 0 ? 10 * std::log10(r.signal_power / r.total_mse())
                                : std::numeric_limits<double>::infinity();
  return r;
}

}  // namespace tpusim
