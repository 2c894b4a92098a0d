// The three QAT-toolchain jobs behind `tpusim train`, `tpusim ptq` and `tpusim qat`. Each writes
// its output folder: model.onnx (FP32 for train, QDQ for ptq/qat), report.json (accuracies,
// options, per-layer scales, epoch history) and the libtorch state the next job starts from
// (model.pt; checkpoint.pt while training). Layout and fields: docs/qat.md.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qat/ptq.h"
#include "qat/qnet.h"
#include "qat/trainer.h"

namespace tpusim::qat {

struct DataOptions {
  std::string dataset = "fashion-mnist";  // models::load_dataset spec
  int64_t train_limit = 0;                // first N training images (0 = all)
  int64_t test_limit = 0;                 // first N test images (0 = all)
};

struct TrainJob {
  std::string model = "lenet5";
  std::string out;
  DataOptions data;
  TrainOptions train;
};

struct PtqJob {
  std::string from, out;
  DataOptions data;
  QuantConfig quant;          // bits, overrides (algo is Fixed)
  std::string bits = "w8a8";  // recorded in the report
  PtqOptions ptq;
  int64_t calib_images = 2048;  // the first N training images
};

struct QatJob {
  std::string from, out;
  DataOptions data;
  QuantConfig quant;
  std::string bits = "w4a4";
  TrainOptions train;
  int freeze_bn_epoch = 2;   // BN statistics frozen from this epoch on (1-based; 0 = never)
  double pact_decay = 1e-4;  // lambda of PACT's L2 decay on alpha
};

struct JobResult {
  nlohmann::json report;             // what out/report.json holds
  std::vector<int64_t> predictions;  // top-1 class per test image (FP32 or fake-quant)
};
JobResult run_train(const TrainJob& job);
JobResult run_ptq(const PtqJob& job);
JobResult run_qat(const QatJob& job);
// Rewrites out/report.json (atomically), e.g. after adding the integer reference's figures.
void write_report(const std::string& out, const nlohmann::json& report);

// libtorch's thread count (threads <= 0: every core); the CLI calls this so it needs no libtorch.
void set_threads(int threads);

// The FP32 network a `tpusim train` folder holds (its report.json names the model and input).
models::Net load_trained(const std::string& dir);

}  // namespace tpusim::qat
