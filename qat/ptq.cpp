#include "qat/ptq.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"

namespace tpusim::qat {

void observe_ptq(QuantNet& observed, const ImageTensors& calib, const PtqOptions& opt) {
  torch::NoGradGuard no_grad;
  observed->eval();
  observed->freeze_bn(true);
  observed->set_mode(QuantMode::Observe);
  const int64_t n = calib.size();
  for (int64_t start = 0; start < n; start += opt.batch_size) {
    const int64_t end = std::min(n, start + opt.batch_size);
    observed->forward(calib.images.slice(0, start, end));
  }
}

void calibrate_ptq_from(QuantNet& q, const QuantNet& observed, const PtqOptions& opt) {
  torch::NoGradGuard no_grad;
  q->eval();
  q->freeze_bn(true);
  const ActQuantizer scores = q->out_quantizer(static_cast<int>(q->net()->spec().layers.size()) - 1);
  const std::vector<ActQuantizer> seen = observed->act_quantizers();
  for (auto& aq : q->act_quantizers()) {
    if (aq->tensor_name() == "image") continue;  // fixed pixel grid
    const auto it = std::find_if(seen.begin(), seen.end(), [&](const ActQuantizer& s) {
      return s->tensor_name() == aq->tensor_name();
    });
    if (it == seen.end() || (*it)->observer() == nullptr)
      throw Error(fmt::format("quantizer '{}': nothing observed for it", aq->tensor_name()));
    // The class scores keep their whole range: clipping the largest scores (what KL, MSE or a
    // percentile would trade for resolution) ties the top classes and changes the prediction.
    const CalibMethod m = aq.get() == scores.get() ? CalibMethod::MinMax : opt.method;
    aq->calibrate_from(*(*it)->observer(), CalibOptions{m, !aq->spec().is_signed, opt.percentile});
  }
  q->set_mode(QuantMode::Quantize);
}

void calibrate_ptq(QuantNet& q, const ImageTensors& calib, const PtqOptions& opt) {
  observe_ptq(q, calib, opt);
  calibrate_ptq_from(q, q, opt);
}

}  // namespace tpusim::qat
