// The three QAT-toolchain jobs behind `tpusim train`, `tpusim ptq` and `tpusim qat`. Each writes
// its output folder: model.onnx (FP32 for train, QDQ for ptq/qat), report.json (accuracies,
// options, per-layer scales, epoch history) and the libtorch state the next job starts from
// (model.pt; checkpoint.pt while training). Layout and fields: docs/qat.md.
#pragma once
#include <string>

#include "models/net.h"
#include "qat/jobs.h"

namespace tpusim::qat {

JobResult run_train(const TrainJob& job);
JobResult run_ptq(const PtqJob& job);
JobResult run_qat(const QatJob& job);

// libtorch's thread count (threads <= 0: every core); through TrainApi.
void set_threads(int threads);

// The FP32 network a `tpusim train` folder holds (its report.json names the model and input).
models::Net load_trained(const std::string& dir);

}  // namespace tpusim::qat
