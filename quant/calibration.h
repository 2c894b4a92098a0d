// PTQ calibration, written once without libtorch: observe a tensor's values batch by batch, choose
// a clipping range [lo, hi] (min-max, EMA, percentile, MSE, KL), turn it into a scale and zero
// point for a 2..8-bit integer grid, and report the rounding and clipping error that choice costs
// (error sources 1 and 2 in docs/design.md, "Quantization error"). Used by the compiler (`--calib`)
// and by the QAT toolchain's PTQ calibrators. Formulas and measured thresholds: docs/calibration.md.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "isa/dtype.h"

namespace tpusim {

// An integer grid of 2..8 bits, independent of the storage type. Signed: [-2^(b-1), 2^(b-1)-1],
// narrow: [-(2^(b-1)-1), 2^(b-1)-1] (symmetric weights); unsigned: [0, 2^b-1]. Values are stored
// in the smallest container that holds them: 2..4 bits in int4/uint4, 5..8 bits in int8/uint8.
struct QuantSpec {
  int bits = 8;
  bool is_signed = true;
  bool narrow = false;  // signed only

  constexpr int32_t qmax() const { return is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; }
  constexpr int32_t qmin() const { return is_signed ? -qmax() - (narrow ? 0 : 1) : 0; }
  constexpr DType storage() const {
    if (bits <= 4) return is_signed ? DType::Int4 : DType::UInt4;
    return is_signed ? DType::Int8 : DType::UInt8;
  }
  // Throws Error unless 2 <= bits <= 8 and narrow implies signed.
  void validate() const;
  // The full grid of an 8- or 4-bit type (int32 is not a calibration target).
  static QuantSpec of(DType t, bool narrow = false);
};

// Smallest scale params_from_range() returns (float epsilon, as PyTorch's observers): a degenerate
// range (all zeros) still gets a valid positive scale.
inline constexpr float kMinScale = std::numeric_limits<float>::epsilon();  // 2^-23

struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  QuantSpec spec;
};

// Scale and zero point for the range [lo, hi] (widened to include 0, so 0 is exactly
// representable). Throws Error for a non-finite range or lo > hi.
//   symmetric, signed:    scale = max(|lo|, |hi|) / qmax, zp = 0
//   symmetric, unsigned:  scale = hi / qmax, zp = 0 (after ReLU; negatives clip to 0)
//   asymmetric:           scale = (hi - lo) / (qmax - qmin), zp = clamp(round(qmin - lo / scale))
// scale is at least kMinScale.
QuantParams params_from_range(double lo, double hi, const QuantSpec& spec, bool symmetric);

// ONNX QuantizeLinear into the storage type (quant/quantize.h), then clamped to the spec's grid
// (a 2-bit value saturates at its own qmin/qmax, not at the int4 container's).
int32_t quantize_value(float x, const QuantParams& p);
// quantize then DequantizeLinear: the value the integer grid represents.
float fake_quantize(float x, const QuantParams& p);

// Histogram with a range that grows. Bins are cells of the lattice k·w (k integer), so 0 is always
// a bin edge: bin b covers [(first + b)·w, (first + b + 1)·w). When data falls outside, the width
// grows by the smallest integer factor m that covers old bins and new data; old bin k·w lands in
// new bin floor(k / m) exactly, so re-binning moves whole bins and conserves every count (it only
// coarsens resolution). The first batch sets w = (max(x,0) - min(x,0)) / (num_bins - 1).
inline constexpr int kDefaultHistogramBins = 4096;  // ~2048 per side for symmetric data (TensorRT)

class Histogram {
 public:
  explicit Histogram(int num_bins = kDefaultHistogramBins);  // 16 .. 2^20 bins
  void add(std::span<const float> values);                   // finite values only

  int num_bins() const { return num_bins_; }
  double bin_width() const { return width_; }  // 0 until the first nonzero value
  int64_t first_index() const { return first_; }
  double edge(int64_t b) const { return static_cast<double>(first_ + b) * width_; }
  // Empty until the first nonzero value (zeros before it are held back, then put in [0, w)).
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t total() const { return total_; }
  // Counts of |x| (or of max(x, 0) when negatives_to_zero) in bins [m·w, (m+1)·w), m = 0, 1, ...;
  // trailing empty bins dropped. Exact folding: 0 is an edge.
  std::vector<uint64_t> magnitude_counts(bool negatives_to_zero) const;

 private:
  void init(double lo, double hi);
  void grow(double lo, double hi);
  int num_bins_;
  std::vector<uint64_t> counts_;
  double width_ = 0;
  int64_t first_ = 0;
  uint64_t pending_zeros_ = 0;
  uint64_t total_ = 0;
};

struct ObserverOptions {
  int num_bins = kDefaultHistogramBins;
  double ema_decay = 0.99;  // Jacob et al. 2018: ema = decay·ema + (1 - decay)·batch, per batch
};

// Streaming statistics of one tensor: exact min/max/count, EMA of per-batch min/max, histogram.
class RangeObserver {
 public:
  explicit RangeObserver(std::string tensor_name, ObserverOptions opt = {});
  // One batch. Throws Error naming the tensor, batch and element for NaN or infinity.
  void observe(std::span<const float> batch);

  const std::string& name() const { return name_; }
  uint64_t count() const { return hist_.total(); }
  int64_t batches() const { return batches_; }
  float min() const { return min_; }  // over all data; valid once count() > 0
  float max() const { return max_; }
  double ema_min() const { return ema_min_; }  // first batch's min, then the EMA recurrence
  double ema_max() const { return ema_max_; }
  const Histogram& histogram() const { return hist_; }

 private:
  std::string name_;
  double decay_;
  Histogram hist_;
  int64_t batches_ = 0;
  float min_ = 0, max_ = 0;
  double ema_min_ = 0, ema_max_ = 0;
};

enum class CalibMethod { MinMax, Ema, Percentile, Mse, Kl };
const char* name(CalibMethod m);  // "minmax", "ema", ...
std::optional<CalibMethod> calib_method_from_name(std::string_view s);

struct CalibOptions {
  CalibMethod method = CalibMethod::MinMax;
  bool symmetric = true;      // zp = 0; with an unsigned spec: the range [0, hi] (after ReLU)
  double percentile = 99.99;  // Percentile: of |x| (symmetric) or of each tail (asymmetric)
};

struct ClipRange {
  double lo = 0, hi = 0;  // lo <= 0 <= hi
};

// The clipping range the method picks for the observed data and target grid. Throws Error naming
// the tensor when nothing was observed or an option is out of range.
ClipRange choose_range(const RangeObserver& obs, const QuantSpec& spec, const CalibOptions& opt);
// choose_range then params_from_range.
QuantParams calibrate(const RangeObserver& obs, const QuantSpec& spec, const CalibOptions& opt);

// Building blocks, exposed for tests and reports.
// Value below which a fraction p (0..1) of the histogram's mass lies; linear within a bin.
double histogram_quantile(std::span<const uint64_t> counts, double first_edge, double width, double p);
// Expected squared error of fake_quantize over the histogram, each bin's mass spread uniformly
// over the bin (rounding and clipping together), per element.
double expected_quant_mse(const Histogram& h, const QuantParams& p);
// TensorRT KL divergence for a threshold of `threshold_bins` magnitude bins and `levels`
// quantized levels (docs/calibration.md): P = bins [0, t) with the mass beyond folded into bin
// t-1; Q = bins [0, t) merged into `levels` groups, each group's mass spread over P's non-zero
// bins. Natural log. Requires levels <= threshold_bins <= counts.size().
double kl_divergence(std::span<const uint64_t> magnitude_counts, int threshold_bins, int levels);

// Symmetric per-output-channel weight scales: weights are [out_channels, ...] in C order;
// scale_c = max|w_c| / qmax (at least kMinScale). Throws Error for an unsigned spec, a size not
// divisible by out_channels, or a non-finite weight.
std::vector<float> per_channel_weight_scales(std::span<const float> weights, int64_t out_channels,
                                             const QuantSpec& spec, std::string_view tensor_name);

// Error of fake_quantize(x) over a tensor, split by source. An element is clipped when saturation
// changed its integer (round(x/scale) + zp outside [qmin, qmax]). Both parts are divided by the
// element count, so rounding_mse + clipping_mse = total_mse().
struct QuantErrorReport {
  uint64_t count = 0, clipped = 0;
  double rounding_mse = 0;  // sum over in-range elements of (x - x̂)² / count
  double clipping_mse = 0;  // sum over clipped elements of (x - x̂)² / count
  double signal_power = 0;  // mean x²
  double sqnr_db = 0;       // 10·log10(signal_power / total_mse); +inf when total_mse is 0
  double total_mse() const { return rounding_mse + clipping_mse; }
};
QuantErrorReport quantization_error(std::span<const float> x, const QuantParams& p,
                                    std::string_view tensor_name);

}  // namespace tpusim
