// The QAT-toolchain half of `tpusim demo`: FP32 training and the four quantized variants, each
// cached in its folder under a key of everything that determines it, so a rerun (or an
// interrupted demo) redoes only what changed.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <functional>

#include "base/error.h"
#include "base/file_io.h"
#include "qat/jobs.h"
#include "quant/calibration.h"
#include "workflow/demo_steps.h"
#include "workflow/qat_jobs.h"

namespace tpusim::workflow {

namespace fs = std::filesystem;

const VariantSpec& variant_spec(const std::string& name) {
  // MSE calibration: lossless at W8A8 and the best PTQ calibrator at W4A4 on this model
  // (docs/qat.md, "Accuracy"); QAT as `tpusim qat` does it by default.
  static const std::vector<VariantSpec> specs = {
      {"ptq_w8a8", "PTQ W8A8 (mse)", "ptq", "w8a8", "mse", 0},
      {"qat_w8a8", "QAT W8A8 (ema)", "qat", "w8a8", "ema", 1},
      {"ptq_w4a4", "PTQ W4A4 (mse)", "ptq", "w4a4", "mse", 0},
      {"qat_w4a4", "QAT W4A4 (lsq)", "qat", "w4a4", "lsq", 2},
      // Transformers: 4-bit weights, 8-bit activations (softmax and LayerNorm outputs keep 8 bits).
      {"ptq_w4a8", "PTQ W4A8 (mse)", "ptq", "w4a8", "mse", 0},
      {"qat_w4a8", "QAT W4A8 (ema)", "qat", "w4a8", "ema", 2},
  };
  for (const VariantSpec& s : specs)
    if (s.name == name) return s;
  std::string names;
  for (const VariantSpec& s : specs) names += (names.empty() ? "" : ", ") + s.name;
  throw Error(fmt::format("unknown demo variant '{}' (expected {})", name, names));
}

const std::vector<std::string>& demo_variant_names(const std::string& model) {
  static const std::vector<std::string> cnn = {"ptq_w8a8", "qat_w8a8", "ptq_w4a4", "qat_w4a4"};
  static const std::vector<std::string> transformer = {"ptq_w8a8", "qat_w8a8", "qat_w4a8"};
  return is_transformer(model) ? transformer : cnn;
}

namespace {

// Part of every cache key: bump it when what a job writes changes (e.g. the ONNX export's names).
constexpr const char* kCacheVersion = "demo-cache-2";

// A folder is reused when its key file holds `key` and the job's outputs are all there.
bool cached(const std::string& dir, const std::string& key) {
  const fs::path d(dir);
  for (const char* f : {"demo_key.txt", "model.onnx", "report.json", "model.pt"})
    if (!fs::exists(d / f)) return false;
  return read_file_text((d / "demo_key.txt").string()) == key;
}

// Before a job rewrites a folder: a job killed half way must not leave the old key beside new files.
void mark_started(const std::string& dir) { fs::remove(fs::path(dir) / "demo_key.txt"); }

void mark_done(const std::string& dir, const std::string& key) {
  write_file_atomic(dir + "/demo_key.txt", key);
}

qat::DataOptions data_options(const DemoOptions& o) { return {o.dataset, o.train_limit, o.test_limit}; }

}  // namespace

std::string demo_fp32(const DemoOptions& o) {
  if (!o.from.empty()) {
    if (!fs::exists(fs::path(o.from) / "model.pt"))
      throw Error(fmt::format("--from {}: not a `tpusim train` folder (no model.pt)", o.from));
    return o.from;
  }
  const std::string dir = o.out + "/fp32";
  const std::string key =
      fmt::format("{} train model={} dataset={} epochs={} limit={} test_limit={} seed=1 augment=1\n",
                  kCacheVersion, o.model, o.dataset, o.epochs, o.train_limit, o.test_limit);
  if (cached(dir, key)) {
    spdlog::info("demo: reusing the trained FP32 model in {} (same options)", dir);
    return dir;
  }
  qat::TrainJob job = default_train_job();
  job.model = o.model;
  job.out = dir;
  job.data = data_options(o);
  job.train.epochs = o.epochs;
  if (is_transformer(o.model)) use_transformer_recipe(job.train, false, {});
  job.train.progress = o.progress;
  spdlog::info("demo: training {} FP32 for {} epochs -> {}", o.model, o.epochs, dir);
  mark_started(dir);
  run_train(job);
  mark_done(dir, key);
  return dir;
}

nlohmann::json demo_quantize(const DemoOptions& o, const VariantSpec& v, const std::string& fp32_dir) {
  const std::string dir = o.out + "/" + v.name;
  // The FP32 report changes whenever the FP32 model does (accuracy, timings), so it keys the variant.
  const size_t fp32_hash = std::hash<std::string>{}(read_file_text(fp32_dir + "/report.json"));
  const int epochs = v.kind == "qat" ? (v.bits == "w8a8" ? o.qat8_epochs : o.qat4_epochs) : 0;
  qat::TrainOptions recipe;
  const bool transformer = is_transformer(trained_model_name(fp32_dir));
  if (transformer) use_transformer_recipe(recipe, true, qat::parse_bits(v.bits));
  const double lr = v.kind != "qat" ? 0.0
                    : transformer   ? recipe.lr
                                    : qat_learning_rate(qat::parse_bits(v.bits));
  const std::string key = fmt::format(
      "{} {} bits={} method={} epochs={} lr={} from={} fp32={:x} limit={} test_limit={}\n", kCacheVersion,
      v.kind, v.bits, v.method, epochs, lr, fp32_dir, fp32_hash, o.train_limit, o.test_limit);
  if (cached(dir, key)) {
    spdlog::info("demo: reusing {} in {} (same FP32 model and options)", v.label, dir);
    return nlohmann::json::parse(read_file_text(dir + "/report.json"));
  }
  mark_started(dir);
  auto start = [&](auto& job) {  // what a PTQ and a QAT job share
    job.from = fp32_dir;
    job.out = dir;
    job.data = data_options(o);
    job.bits = v.bits;
    job.quant.bits = qat::parse_bits(v.bits);
  };
  qat::JobResult r;
  if (v.kind == "ptq") {
    qat::PtqJob job;
    start(job);
    job.ptq.method = *calib_method_from_name(v.method);
    job.ptq.progress = o.progress;
    spdlog::info("demo: {} -> {}", v.label, dir);
    r = run_ptq(job, 0, o.progress);
  } else {
    qat::QatJob job = default_qat_job();
    start(job);
    job.quant.algo = *qat::algo_from_name(v.method);
    if (transformer) use_transformer_recipe(job.train, true, job.quant.bits);
    job.train.epochs = epochs;
    job.freeze_bn_epoch = epochs;  // the last epoch trains exactly the exported (folded) form
    job.train.lr = lr;
    job.train.progress = o.progress;
    spdlog::info("demo: {} for {} epoch(s) -> {}", v.label, epochs, dir);
    r = run_qat(job, 0, o.progress);
  }
  mark_done(dir, key);
  return r.report;
}

}  // namespace tpusim::workflow
