// The calibration histogram (a growing lattice of bins) and the per-tensor RangeObserver.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "quant/calibration.h"

namespace tpusim {
namespace {

// floor(a / b) for b > 0 (C++ division truncates toward zero).
int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0 && a < 0) ? 1 : 0); }

// Beyond this many fine bins the lattice indices no longer fit a double's 53-bit mantissa.
constexpr double kMaxLatticeSpan = 0x1p52;

}  // namespace

Histogram::Histogram(int num_bins) : num_bins_(num_bins) {
  if (num_bins < 16 || num_bins > (1 << 20))
    throw Error(fmt::format("calibration histogram: {} bins (must be 16 .. 2^20)", num_bins));
}

// Width so that [lo, hi] (lo <= 0 <= hi, not both 0) spans at most num_bins lattice cells.
void Histogram::init(double lo, double hi) {
  counts_.assign(num_bins_, 0);
  width_ = (hi - lo) / (num_bins_ - 1);
  // floor(hi/w) - floor(lo/w) <= num_bins - 1 holds exactly; widen by an ulp-sized step if
  // floating-point rounding says otherwise.
  while (std::floor(hi / width_) - std::floor(lo / width_) > num_bins_ - 1) width_ *= 1 + 0x1p-40;
  first_ = static_cast<int64_t>(std::floor(lo / width_));
  counts_[-first_] += pending_zeros_;  // zeros seen before the width was known: bin [0, w)
  pending_zeros_ = 0;
}

// Make the window cover [lo, hi] in addition to the non-empty old bins.
void Histogram::grow(double lo, double hi) {
  const double new_lo = std::floor(lo / width_), new_hi = std::floor(hi / width_);
  if (new_lo >= first_ && new_hi <= first_ + num_bins_ - 1) return;
  int64_t b_first = 0, b_last = num_bins_ - 1;
  while (counts_[b_first] == 0) ++b_first;  // init() put data in, so some bin is non-empty
  while (counts_[b_last] == 0) --b_last;
  // Keep lattice cell -1 or 0 in the window so that 0 stays an edge inside it.
  const double span_lo = std::min({static_cast<double>(first_ + b_first), new_lo, 0.0});
  const double span_hi = std::max({static_cast<double>(first_ + b_last), new_hi, -1.0});
  std::vector<uint64_t> old(num_bins_, 0);
  std::swap(old, counts_);
  if (span_hi - span_lo < kMaxLatticeSpan) {
    const auto l = static_cast<int64_t>(span_lo), h = static_cast<int64_t>(span_hi);
    // The smallest m >= the first guess that fits, by bisection: the cell count only falls as m
    // grows (l <= 0, h >= -1), and (h - l) / m + 2 <= num_bins fits. A linear search took ~10^10
    // steps for a jump from 0.03-wide bins to 1e13 (found by fuzz_calibration).
    auto fits = [&](int64_t k) { return floor_div(h, k) - floor_div(l, k) + 1 <= num_bins_; };
    int64_t m = std::max<int64_t>(1, (h - l + num_bins_) / num_bins_);
    if (!fits(m)) {
      int64_t bad = m, good = std::max<int64_t>(m + 1, (h - l) / (num_bins_ - 2) + 1);
      while (good - bad > 1) {
        const int64_t mid = bad + (good - bad) / 2;
        (fits(mid) ? good : bad) = mid;
      }
      m = good;
    }
    const int64_t new_first = floor_div(l, m);
    counts_.assign(num_bins_, 0);
    for (int64_t b = 0; b < num_bins_; ++b)
      if (old[b] != 0) counts_[floor_div(first_ + b, m) - new_first] += old[b];
    width_ *= static_cast<double>(m);
    first_ = new_first;
    return;
  }
  // A jump of more than 2^52 fine bins: the new width exceeds the whole old window by far, so
  // every old value lies in one of the two new cells next to 0, [-w, 0) or [0, w).
  uint64_t negative = 0, non_negative = 0;
  for (int64_t b = 0; b < num_bins_; ++b) (first_ + b < 0 ? negative : non_negative) += old[b];
  init(std::min({lo, edge(b_first), 0.0}), std::max({hi, edge(b_last + 1), 0.0}));
  // No old negatives: the window may start at 0, and cell -1 is outside it (found by
  // fuzz_calibration: counts_[-1]).
  if (negative != 0) counts_[-1 - first_] += negative;
  counts_[-first_] += non_negative;
}

void Histogram::add(std::span<const float> values) {
  if (values.empty()) return;
  const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
  const double lo = *lo_it, hi = *hi_it;
  total_ += values.size();
  if (width_ == 0) {
    if (lo == 0 && hi == 0) {  // still no scale to set a width from
      pending_zeros_ += values.size();
      return;
    }
    init(std::min(lo, 0.0), std::max(hi, 0.0));
  } else {
    grow(lo, hi);
  }
  const double last = num_bins_ - 1;
  for (float v : values) {
    // The same floor(x / w) as grow() uses, so in-range values land inside; clamp for safety.
    const double b = std::clamp(std::floor(v / width_) - static_cast<double>(first_), 0.0, last);
    ++counts_[static_cast<size_t>(b)];
  }
}

std::vector<uint64_t> Histogram::magnitude_counts(bool negatives_to_zero) const {
  std::vector<uint64_t> mag;
  if (width_ == 0) {
    if (pending_zeros_ > 0) mag.push_back(pending_zeros_);
    return mag;
  }
  mag.assign(std::max(-first_, first_ + num_bins_), 0);
  for (int64_t b = 0; b < num_bins_; ++b) {
    const int64_t k = first_ + b;  // cell [k·w, (k+1)·w); for k < 0 its mirror is cell -k-1
    mag[k >= 0 ? k : (negatives_to_zero ? 0 : -k - 1)] += counts_[b];
  }
  while (!mag.empty() && mag.back() == 0) mag.pop_back();
  return mag;
}

RangeObserver::RangeObserver(std::string tensor_name, ObserverOptions opt)
    : name_(std::move(tensor_name)), decay_(opt.ema_decay), hist_(opt.num_bins) {
  if (!(opt.ema_decay >= 0 && opt.ema_decay < 1))
    throw Error(
        fmt::format("calibration of tensor '{}': ema_decay {} must be in [0, 1)", name_, opt.ema_decay));
}

void RangeObserver::observe(std::span<const float> batch) {
  if (batch.empty()) return;
  for (size_t i = 0; i < batch.size(); ++i)
    if (!std::isfinite(batch[i]))
      throw Error(fmt::format("calibration of tensor '{}': non-finite value {} at element {} of batch {}",
                              name_, batch[i], i, batches_));
  const auto [lo_it, hi_it] = std::minmax_element(batch.begin(), batch.end());
  if (batches_ == 0) {
    min_ = *lo_it;
    max_ = *hi_it;
    ema_min_ = *lo_it;
    ema_max_ = *hi_it;
  } else {
    min_ = std::min(min_, *lo_it);
    max_ = std::max(max_, *hi_it);
    ema_min_ = decay_ * ema_min_ + (1 - decay_) * *lo_it;
    ema_max_ = decay_ * ema_max_ + (1 - decay_) * *hi_it;
  }
  hist_.add(batch);
  ++batches_;
}

}  // namespace tpusim
