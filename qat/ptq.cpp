#include "qat/ptq.h"

#include <algorithm>

namespace tpusim::qat {

void calibrate_ptq(QuantNet& q, const ImageTensors& calib, const PtqOptions& opt) {
  torch::NoGradGuard no_grad;
  q->eval();
  q->freeze_bn(true);
  q->set_mode(QuantMode::Observe);
  const int64_t n = calib.size();
  for (int64_t start = 0; start < n; start += opt.batch_size) {
    const int64_t end = std::min(n, start + opt.batch_size);
    q->forward(calib.images.slice(0, start, end));
  }
  const ActQuantizer scores = q->out_quantizer(static_cast<int>(q->net()->spec().layers.size()) - 1);
  for (auto& aq : q->act_quantizers()) {
    if (aq->tensor_name() == "image") continue;  // fixed pixel grid
    // The class scores keep their whole range: clipping the largest scores (what KL, MSE or a
    // percentile would trade for resolution) ties the top classes and changes the prediction.
    const CalibMethod m = aq.get() == scores.get() ? CalibMethod::MinMax : opt.method;
    aq->calibrate(CalibOptions{m, !aq->spec().is_signed, opt.percentile});
  }
  q->set_mode(QuantMode::Quantize);
}

}  // namespace tpusim::qat
