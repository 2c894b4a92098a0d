// Quantizer modules: one per quantized tensor of a network (each conv/linear weight, each
// activation the integer graph requantizes). They hold the parameters (EMA ranges, LSQ steps,
// PACT clipping levels), pick the gradient of their QAT algorithm (qat/fake_quant.h), and report
// the QuantParams the exporter writes. PTQ uses the same modules: observe, calibrate, freeze.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qat/quant_config.h"
#include "quant/calibration.h"

namespace tpusim::qat {

// What a quantizer does in forward().
enum class QuantMode {
  Off,       // identity (the FP32 network)
  Observe,   // identity, and the RangeObserver records every batch (PTQ calibration)
  Quantize,  // fake quantization (QAT training and evaluation, PTQ evaluation)
};

// Per-tensor activation quantizer. spec.is_signed == false: unsigned grid, zero point 0, for
// ReLU outputs. Signed: asymmetric (zero point from the range) for Ema/Fixed; symmetric (zero
// point 0) for Lsq/Pact. Dorefa and Pact on a signed tensor behave as Ema (both need ReLU), and
// algo() reports Ema for them.
// Training mode (is_training()) updates EMA ranges (ema = decay*ema + (1-decay)*batch per batch,
// ObserverOptions::ema_decay); eval mode uses them frozen.
// The first Quantize batch initialises what is still unset: Ema: the batch's min/max; Lsq: the
// step 2<|x|>/sqrt(qmax) (Esser et al.); Pact: alpha = the batch's max (chosen over the paper's
// 10: fine-tuning starts from a trained FP32 net whose ranges are known). A Fixed quantizer
// throws instead: it must be calibrated (or given set_params()) first.
// LSQ's gradient scale is 1/sqrt(N * qmax) with N the features per example (numel / size(0)),
// the paper's "number of features"; upstream gradients are already batch means.
// State, saved by torch::save of the owning module: Ema/Fixed: buffers "lo", "hi" (float64) and
// "initialized"; Lsq: parameter "step"; Pact: parameter "alpha" (both [1]) and "initialized";
// Dorefa: none. The observer and the mode are not saved.
class ActQuantizerImpl : public torch::nn::Module {
 public:
  // `symmetric`: zero point 0 whatever the algorithm (attention's K and V, which the MAC array
  // reads as weights).
  ActQuantizerImpl(std::string tensor_name, Algo algo, QuantSpec spec, ObserverOptions observer = {},
                   bool symmetric = false);
  torch::Tensor forward(const torch::Tensor& x);

  void set_mode(QuantMode m);
  QuantMode mode() const { return mode_; }
  // PTQ: the range chosen from what Observe mode recorded (throws Error naming the tensor if
  // nothing was observed); sets the parameters and marks the quantizer initialised. Only Fixed
  // takes opt.symmetric as given; the symmetric algorithms (Lsq, Pact, unsigned Ema) force it.
  void calibrate(const CalibOptions& opt);
  // The same from another quantizer's observer of the same tensor (any bits: PTQ observes FP32
  // values), so one observation pass serves several bit widths (qat/ptq.h).
  void calibrate_from(const RangeObserver& observer, const CalibOptions& opt);
  const RangeObserver* observer() const { return observer_.get(); }
  // Set scale/zero point directly (PTQ result, or a QAT start from PTQ ranges); params() then
  // returns exactly p (Pact: alpha = scale * qmax, nudged so alpha / qmax == scale when such a
  // float exists, else within one ulp). Throws Error for another spec, a bad scale, a zero point
  // a symmetric quantizer cannot hold, or Dorefa (a fixed grid).
  void set_params(const QuantParams& p);
  // Current grid; throws Error naming the tensor if never initialised (or if a learned step or
  // alpha went non-positive). Ema: params_from_range(lo, hi, spec, !is_signed); Fixed: the same,
  // asymmetric (any zero point); Lsq: (step, 0); Pact: (alpha / qmax, 0); Dorefa: (1 / qmax, 0).
  QuantParams params() const;
  bool initialized() const;
  // PACT: lambda * alpha^2 (the paper's L2 decay on alpha); zero for other algorithms.
  torch::Tensor regularizer(double lambda) const;
  const std::string& tensor_name() const { return name_; }
  Algo algo() const { return algo_; }
  const QuantSpec& spec() const { return spec_; }

 private:
  bool symmetric() const;  // zero point always 0
  // Zero point held at 0 (only Fixed keeps the zero point it is given on a symmetric grid).
  bool zero_point_pinned() const { return force_symmetric_ || (algo_ != Algo::Fixed && symmetric()); }
  // The tracked range is [0, qmax * s] rather than the grid's own [lo, hi].
  bool range_from_zero() const { return force_symmetric_ || (algo_ == Algo::Ema && symmetric()); }
  double lsq_grad_scale(const torch::Tensor& x) const;
  static int64_t features_per_example(const torch::Tensor& x);
  std::pair<double, double> batch_range(const torch::Tensor& x) const;  // finite min, max
  void initialize_from(const torch::Tensor& x);                         // Lsq/Pact first batch
  void update_ema(const torch::Tensor& x);

  std::string name_;
  Algo algo_;
  QuantSpec spec_;
  ObserverOptions obs_opt_;
  QuantMode mode_ = QuantMode::Off;
  bool force_symmetric_ = false;
  std::unique_ptr<RangeObserver> observer_;
  torch::Tensor lo_, hi_, init_;  // buffers: EMA/fixed range [lo, hi]; init_ = 1 once set
  torch::Tensor step_;            // parameter: LSQ step or PACT alpha (one element)
};
TORCH_MODULE(ActQuantizer);

// Per-output-channel (dim 0) symmetric weight quantizer (zero point 0), signed spec, full or
// narrow range. Ema/Pact/Fixed: scale_c = max|w_c| / qmax of the weight it is given (as isa
// per_channel_weight_scales, STE, no state); Lsq: learned steps s_c (parameter "step" [channels],
// buffer "initialized") initialised on the first Quantize call to 2<|w_c|>/sqrt(qmax), gradient
// scale 1/sqrt(numel_c * qmax); Dorefa: dorefa_weight, one scale 1/qmax for all channels.
// Off and Observe modes are the identity (weights need no observer).
class WeightQuantizerImpl : public torch::nn::Module {
 public:
  WeightQuantizerImpl(std::string tensor_name, Algo algo, QuantSpec spec, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& w);  // identity in Off mode
  void set_mode(QuantMode m);
  QuantMode mode() const { return mode_; }

  // For export: the fake-quantized weight (what forward returns in Quantize mode, whatever the
  // mode, no grad) and the per-channel scales it is on: round(values[c,...] / scales[c]) is an
  // integer in the grid. Throws Error for a weight whose dim 0 is not out_channels.
  struct Quantized {
    torch::Tensor values;
    std::vector<float> scales;
  };
  Quantized quantize(const torch::Tensor& w);
  const std::string& tensor_name() const { return name_; }
  Algo algo() const { return algo_; }
  const QuantSpec& spec() const { return spec_; }

 private:
  void check_shape(const torch::Tensor& w) const;
  torch::Tensor max_abs_scales(const torch::Tensor& w) const;  // [channels] float
  torch::Tensor quantize_forward(const torch::Tensor& w);
  double lsq_grad_scale(const torch::Tensor& w) const;

  std::string name_;
  Algo algo_;
  QuantSpec spec_;
  int64_t channels_;
  QuantMode mode_ = QuantMode::Off;
  torch::Tensor step_, init_;  // LSQ steps [channels] and the initialised flag
};
TORCH_MODULE(WeightQuantizer);

}  // namespace tpusim::qat
