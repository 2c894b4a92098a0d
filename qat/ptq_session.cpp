#include "qat/ptq_session.h"

#include "qat/onnx_export.h"
#include "qat/ptq.h"
#include "qat/workflow.h"

namespace tpusim::qat {

namespace {

class TorchPtqSession : public PtqSession {
 public:
  explicit TorchPtqSession(const PtqJob& job) : net_(load_trained(job.from)), opt_(job.ptq) {
    // The calibration images run_ptq takes: the first calib_images of the (limited) training split.
    models::ImageSet train = models::load_dataset(job.data.dataset, models::Split::Train);
    train = train.head(job.data.train_limit);
    const ImageTensors all = to_tensors(train.head(job.calib_images));
    QuantConfig qc = job.quant;
    qc.algo = Algo::Fixed;
    observer_config_ = qc.observer;
    observed_ = QuantNet(net_, qc);
    observe_ptq(observed_, all, opt_);
  }

  void export_model(const QuantConfig& quant, const std::string& onnx_path) override {
    torch::NoGradGuard no_grad;
    QuantConfig qc = quant;
    qc.algo = Algo::Fixed;
    qc.observer = observer_config_;
    QuantNet q(net_, qc);
    calibrate_ptq_from(q, observed_, opt_);
    export_onnx(q->deploy(), onnx_path);
  }

 private:
  models::Net net_;
  PtqOptions opt_;
  ObserverOptions observer_config_;
  QuantNet observed_{nullptr};
};

}  // namespace

std::unique_ptr<PtqSession> open_ptq_session(const PtqJob& job) {
  return std::make_unique<TorchPtqSession>(job);
}

}  // namespace tpusim::qat
