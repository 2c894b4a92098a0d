// The QAT toolchain's jobs as plain data, without libtorch: what `tpusim train`, `ptq` and `qat`
// (and the demo) ask for, and what a job returns. qat/workflow.h runs them; the `tpusim` binary
// reaches that code only through TrainApi, in a shared library it opens when a job is run, so
// commands that do not train never load libtorch (docs/design.md, "Start-up").
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qat/quant_config.h"
#include "quant/calibration.h"

namespace tpusim::qat {

struct TrainOptions {
  int epochs = 10;
  int64_t batch_size = 128;
  std::string optimizer = "sgd";  // "sgd" (momentum, nesterov off) or "adam"
  double lr = 0.05;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  std::string schedule = "cosine";  // "cosine" (per epoch, to 0 at the end) or "step"
  int step_epochs = 5;              // step: lr *= step_gamma every step_epochs
  double step_gamma = 0.1;
  uint64_t seed = 1;
  bool augment = false;         // random shifts of up to 2 pixels (zero fill) and horizontal flips
  std::string checkpoint;       // file written after each epoch ("" = none)
  bool resume = false;          // continue from `checkpoint` if it exists
  bool progress = true;         // progress bar on stderr
  std::string label = "train";  // shown in the progress bar
};

struct PtqOptions {
  CalibMethod method = CalibMethod::Kl;
  double percentile = 99.99;
  int64_t batch_size = 256;  // EMA's per-batch recurrence depends on it
  bool progress = true;
};

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
// Rewrites out/report.json (atomically), e.g. after adding the integer reference's figures.
void write_report(const std::string& out, const nlohmann::json& report);

// One FP32 model's activations observed once on the calibration images, then any number of bit
// assignments calibrated from those observations and exported (`tpusim mixprec` tries many). Each
// export is the model `tpusim ptq` writes for the same job with that QuantConfig, byte for byte.
class PtqSession {
 public:
  virtual ~PtqSession() = default;
  // Calibrates `quant` (its algo is taken as Fixed) and writes the QDQ model to onnx_path
  // atomically. Throws Error for a layer name the model does not have.
  virtual void export_model(const QuantConfig& quant, const std::string& onnx_path) = 0;
};

// The entry points of the QAT toolchain's shared library (qat/train_plugin.cpp). The library
// exports kTrainApiSymbol, an extern "C" function returning a pointer to one TrainApi; `version`
// changes whenever this file's types do, and a mismatch is refused on load.
struct TrainApi {
  int version;
  JobResult (*run_train)(const TrainJob&);
  JobResult (*run_ptq)(const PtqJob&);
  JobResult (*run_qat)(const QatJob&);
  void (*set_threads)(int threads);  // libtorch's thread count (<= 0: every core)
  // job.from, data, quant (observer options), calib_images and ptq are used; job.out is not.
  std::unique_ptr<PtqSession> (*open_ptq_session)(const PtqJob& job);
};
inline constexpr int kTrainApiVersion = 2;
inline constexpr const char* kTrainApiSymbol = "tpusim_train_api";

}  // namespace tpusim::qat
