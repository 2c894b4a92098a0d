// Range choosers: min-max, EMA, percentile, MSE and KL (entropy) over a RangeObserver.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "isa/numerics.h"
#include "quant/calibration.h"
#include "quant/quantize.h"

namespace tpusim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Asymmetric MSE search: each round is two 1-D scans; it converges in a few.
constexpr int kMaxDescentRounds = 16;

// The histogram read as a piecewise-uniform density (each bin's mass spread evenly over the bin),
// with prefix sums of its first three moments so that the squared error over any interval is O(1).
class BinDensity {
 public:
  explicit BinDensity(const Histogram& h) : h_(h), prefix_(h.counts().size() + 1) {
    const auto total = static_cast<long double>(h.total());
    for (size_t b = 0; b < h.counts().size(); ++b) {
      const long double e0 = h.edge(b), e1 = h.edge(b + 1), mass = h.counts()[b] / total;
      prefix_[b + 1] = {prefix_[b][0] + mass, prefix_[b][1] + mass * (e0 + e1) / 2,
                        prefix_[b][2] + mass * (e0 * e0 + e0 * e1 + e1 * e1) / 3};
    }
  }
  // Integral of (x - q)^2 f(x) over [u, v].
  double sq_error(double u, double v, double q) const {
    if (!(v > u)) return 0;
    const Moments a = at(u), b = at(v);
    const long double m0 = b[0] - a[0], m1 = b[1] - a[1], m2 = b[2] - a[2];
    return static_cast<double>(std::max(0.0L, m2 - 2 * q * m1 + static_cast<long double>(q) * q * m0));
  }
  double lower() const { return h_.edge(0); }
  double upper() const { return h_.edge(h_.num_bins()); }

 private:
  using Moments = std::array<long double, 3>;  // integrals of x^0, x^1, x^2 f(x) from -inf to t
  Moments at(double t) const {
    if (t <= lower()) return prefix_.front();
    if (t >= upper()) return prefix_.back();
    const auto b = static_cast<size_t>(
        std::clamp(std::floor(t / h_.bin_width()) - h_.first_index(), 0.0, h_.num_bins() - 1.0));
    const long double e = h_.edge(b), tt = t;
    const long double density = h_.counts()[b] / (static_cast<long double>(h_.total()) * h_.bin_width());
    Moments m = prefix_[b];
    m[0] += density * (tt - e);
    m[1] += density * (tt - e) * (tt + e) / 2;
    m[2] += density * (tt - e) * (tt * tt + tt * e + e * e) / 3;
    return m;
  }
  const Histogram& h_;
  std::vector<Moments> prefix_;
};

// Round to nearest: level q owns [midpoint to q-1, midpoint to q+1); the end levels own the tails.
double grid_mse(const BinDensity& d, const QuantParams& p) {
  double err = 0, from = -kInf;
  for (int32_t q = p.spec.qmin(); q <= p.spec.qmax() && from < d.upper(); ++q) {
    const double level = dequantize_linear(q, p.scale, p.zero_point);
    const double to = q < p.spec.qmax()
                          ? (level + static_cast<double>(dequantize_linear(q + 1, p.scale, p.zero_point))) / 2
                          : kInf;
    if (to > d.lower()) err += d.sq_error(std::max(from, d.lower()), std::min(to, d.upper()), level);
    from = to;
  }
  return err;
}

struct Search {
  const RangeObserver& obs;
  const QuantSpec& spec;
  const CalibOptions& opt;
  double mn = std::min<double>(obs.min(), 0), mx = std::max<double>(obs.max(), 0);
  bool sym_unsigned = opt.symmetric && !spec.is_signed;

  // Largest magnitude a symmetric grid must cover: |x| when signed, max(x, 0) when unsigned.
  double amax() const { return sym_unsigned ? mx : std::max(-mn, mx); }
  // A magnitude threshold T as the range the grid covers.
  ClipRange symmetric_range(double t) const { return sym_unsigned ? ClipRange{0, t} : ClipRange{-t, t}; }
  double mse(const BinDensity& d, ClipRange r) const {
    return grid_mse(d, params_from_range(r.lo, r.hi, spec, opt.symmetric));
  }

  ClipRange percentile() const {
    if (!(opt.percentile > 0 && opt.percentile <= 100))
      throw Error(fmt::format("calibration of tensor '{}': percentile {} must be in (0, 100]", obs.name(),
                              opt.percentile));
    const Histogram& h = obs.histogram();
    const double p = opt.percentile / 100;
    if (opt.symmetric)
      return symmetric_range(
          std::min(histogram_quantile(h.magnitude_counts(sym_unsigned), 0, h.bin_width(), p), amax()));
    const double lo = histogram_quantile(h.counts(), h.edge(0), h.bin_width(), 1 - p);
    const double hi = histogram_quantile(h.counts(), h.edge(0), h.bin_width(), p);
    return {std::clamp(lo, mn, 0.0), std::clamp(hi, 0.0, mx)};
  }

  // Every bin edge below the data's extent is a candidate end. Symmetric: one threshold, a 1-D
  // scan. Asymmetric: coordinate descent, alternately the best hi for the current lo and the best
  // lo for that hi (each a full 1-D scan, so it steps over the jaggedness zero-point rounding
  // adds), until neither improves. Starts from [min, max].
  ClipRange mse() const {
    const Histogram& h = obs.histogram();
    const BinDensity d(h);
    const double w = h.bin_width();
    ClipRange best = opt.symmetric ? symmetric_range(amax()) : ClipRange{mn, mx};
    double best_err = mse(d, best);
    auto consider = [&](ClipRange r) {
      if (const double e = mse(d, r); e < best_err) best_err = e, best = r;
    };
    if (opt.symmetric) {
      for (double m = 1; m * w < amax(); ++m) consider(symmetric_range(m * w));
      return best;
    }
    for (int round = 0; round < kMaxDescentRounds; ++round) {
      const ClipRange start = best;
      for (double m = 0; m * w < mx; ++m) consider({best.lo, m * w});
      consider({best.lo, mx});
      for (double m = 0; m * w < -mn; ++m) consider({-m * w, best.hi});
      consider({mn, best.hi});
      if (best.lo == start.lo && best.hi == start.hi) break;
    }
    return best;
  }

  // TensorRT: thresholds of i = levels .. all magnitude bins, the one of least KL divergence.
  ClipRange kl() const {
    const Histogram& h = obs.histogram();
    const int all_levels = spec.qmax() - spec.qmin() + 1;
    // Levels over [0, T]: the non-negative half of a symmetric grid; for an asymmetric grid all of
    // them when the data has one sign, else half (|x| folds both sides onto one axis).
    const int levels = opt.symmetric ? spec.qmax() + 1 : (mn == 0 || mx == 0 ? all_levels : all_levels / 2);
    std::vector<uint64_t> mag = h.magnitude_counts(sym_unsigned);
    // The bin at zero holds every exact zero (half a ReLU output, all of it after folding the
    // negatives): Q's first group would smear that spike over its neighbours, so KL would favour
    // thresholds so small that each group is one bin. NVIDIA's pytorch-quantization entropy
    // calibrator levels it the same way (bins[0] = bins[1]); measured on the BN+ReLU LeNet, INT8
    // KL went from clipping conv1 at 1/5 of its range (-4.5 points top-1) to within 0.3 of min-max.
    if (mag.size() > 1) mag[0] = mag[1];
    const double limit = amax();
    double t = limit;
    if (static_cast<int>(mag.size()) > levels) {  // else no candidate to trade against the max
      double best_kl = kInf;
      for (int i = levels; i <= static_cast<int>(mag.size()); ++i)
        if (const double kl = kl_divergence(mag, i, levels); kl < best_kl)
          best_kl = kl, t = std::min(i * h.bin_width(), limit);
    }
    if (opt.symmetric) return symmetric_range(t);
    return {std::max(mn, -t), std::min(mx, t)};
  }
};

}  // namespace

const char* name(CalibMethod m) {
  switch (m) {
    case CalibMethod::MinMax: return "minmax";
    case CalibMethod::Ema: return "ema";
    case CalibMethod::Percentile: return "percentile";
    case CalibMethod::Mse: return "mse";
    case CalibMethod::Kl: return "kl";
  }
  return "?";
}

std::optional<CalibMethod> calib_method_from_name(std::string_view s) {
  for (CalibMethod m :
       {CalibMethod::MinMax, CalibMethod::Ema, CalibMethod::Percentile, CalibMethod::Mse, CalibMethod::Kl})
    if (s == name(m)) return m;
  return std::nullopt;
}

double histogram_quantile(std::span<const uint64_t> counts, double first_edge, double width, double p) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  const double rank = std::clamp(p, 0.0, 1.0) * static_cast<double>(total);
  double below = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    const auto c = static_cast<double>(counts[b]);
    if (c > 0 && below + c >= rank) return first_edge + width * (static_cast<double>(b) + (rank - below) / c);
    below += c;
  }
  return first_edge + width * static_cast<double>(counts.size());
}

double expected_quant_mse(const Histogram& h, const QuantParams& p) {
  if (h.counts().empty()) return 0;  // only zeros seen, and 0 is exactly representable
  return grid_mse(BinDensity(h), p);
}

double kl_divergence(std::span<const uint64_t> mag, int threshold_bins, int levels) {
  const auto n = static_cast<size_t>(threshold_bins);
  if (levels < 1 || threshold_bins < levels || n > mag.size())
    throw Error(fmt::format("kl_divergence: need 1 <= levels ({}) <= threshold bins ({}) <= bins ({})",
                            levels, threshold_bins, mag.size()));
  std::vector<double> p(mag.begin(), mag.begin() + threshold_bins), q(n, 0.0);
  double in_range = 0;
  for (double c : p) in_range += c;
  if (in_range == 0) return kInf;  // every value beyond the threshold: Q is empty
  for (size_t k = n; k < mag.size(); ++k) p[n - 1] += static_cast<double>(mag[k]);  // outliers to the edge
  // Q: merge the in-range bins (outliers excluded) into `levels` groups, the last taking the
  // remainder; spread each group's mass over the bins where P is non-zero.
  const size_t group = n / static_cast<size_t>(levels);
  for (size_t j = 0; j < static_cast<size_t>(levels); ++j) {
    const size_t start = j * group, stop = j + 1 == static_cast<size_t>(levels) ? n : start + group;
    double mass = 0, nonzero = 0;
    for (size_t k = start; k < stop; ++k) {
      mass += static_cast<double>(mag[k]);
      nonzero += p[k] != 0 ? 1 : 0;
    }
    for (size_t k = start; k < stop; ++k) q[k] = p[k] != 0 ? mass / nonzero : 0;
  }
  // A P bin whose group held no in-range mass (outliers only) would make KL infinite: give it a
  // small count, as MXNet's _smooth_distribution (eps = 1e-4) does.
  double p_sum = 0, q_sum = 0;
  for (size_t k = 0; k < n; ++k) {
    if (p[k] != 0 && q[k] == 0) q[k] = 1e-4;
    p_sum += p[k];
    q_sum += q[k];
  }
  double kl = 0;
  for (size_t k = 0; k < n; ++k)
    if (p[k] != 0) kl += p[k] / p_sum * std::log((p[k] / p_sum) / (q[k] / q_sum));
  return kl;
}

ClipRange choose_range(const RangeObserver& obs, const QuantSpec& spec, const CalibOptions& opt) {
  spec.validate();
  if (obs.count() == 0) throw Error(fmt::format("calibration of tensor '{}': no data observed", obs.name()));
  const Search s{obs, spec, opt};
  if (s.mn == 0 && s.mx == 0) return {0, 0};  // all zeros: no histogram width to search over
  switch (opt.method) {
    case CalibMethod::MinMax: return opt.symmetric ? s.symmetric_range(s.amax()) : ClipRange{s.mn, s.mx};
    case CalibMethod::Ema: {
      const Search ema{obs, spec, opt, std::min(obs.ema_min(), 0.0), std::max(obs.ema_max(), 0.0)};
      return opt.symmetric ? ema.symmetric_range(ema.amax()) : ClipRange{ema.mn, ema.mx};
    }
    case CalibMethod::Percentile: return s.percentile();
    case CalibMethod::Mse: return s.mse();
    case CalibMethod::Kl: return s.kl();
  }
  throw Error(fmt::format("calibration of tensor '{}': unknown method", obs.name()));
}

QuantParams calibrate(const RangeObserver& obs, const QuantSpec& spec, const CalibOptions& opt) {
  const ClipRange r = choose_range(obs, spec, opt);
  return params_from_range(r.lo, r.hi, spec, opt.symmetric);
}

}  // namespace tpusim
