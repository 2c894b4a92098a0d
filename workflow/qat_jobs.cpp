#include "workflow/qat_jobs.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file_io.h"
#include "models/dataset.h"
#include "models/model_spec.h"
#include "workflow/intref_eval.h"
#include "workflow/train_loader.h"

namespace tpusim::workflow {

namespace {

// The integer reference on the first `limit` test images, compared with the fake-quant
// predictions on the same images; added to the report as "integer_reference".
void add_int_reference(const std::string& out, const qat::DataOptions& data, int64_t limit, bool progress,
                       qat::JobResult& r) {
  if (limit == 0) return;
  models::ImageSet test = models::load_dataset(data.dataset, models::Split::Test);
  if (data.test_limit > 0) test = test.head(data.test_limit);
  const IntRefResult ref = int_reference_eval(out + "/model.onnx", test, limit, progress);
  int64_t agree = 0, fq_hits = 0;
  for (size_t i = 0; i < ref.predictions.size(); ++i) {
    agree += ref.predictions[i] == r.predictions[i];
    fq_hits += r.predictions[i] == test.labels[i];
  }
  const double n = static_cast<double>(ref.images), fq = static_cast<double>(fq_hits) / n;
  r.report["integer_reference"] = {{"images", ref.images},
                                   {"top1", ref.top1},
                                   {"fake_quant_top1", fq},
                                   {"gap", fq - ref.top1},
                                   {"agreement", static_cast<double>(agree) / n}};
  qat::write_report(out, r.report);
  spdlog::info(
      "{}: integer reference top-1 {:.2f}% vs fake-quant {:.2f}% on {} images (same top-1 class on {:.2f}%)",
      out, 100 * ref.top1, 100 * fq, ref.images, 100.0 * static_cast<double>(agree) / n);
}

}  // namespace

qat::TrainJob default_train_job() {
  qat::TrainJob job;
  job.train.epochs = 15;
  job.train.augment = true;
  return job;
}

qat::QatJob default_qat_job() {
  qat::QatJob job;
  job.train.epochs = 3;
  job.train.lr = 0;  // by bit width: qat_learning_rate
  job.train.weight_decay = 5e-5;
  job.train.augment = true;
  return job;
}

double qat_learning_rate(const qat::LayerBits& bits) {
  return bits.weight >= 8 && bits.act >= 8 ? 0.0001 : 0.01;
}

bool is_transformer(const std::string& model) {
  try {
    return models::model_spec(model).transformer();
  } catch (const Error&) {
    return false;  // the job names the unknown model itself
  }
}

void use_transformer_recipe(qat::TrainOptions& t, bool qat, const qat::LayerBits& bits) {
  t.optimizer = "adam";
  t.lr = !qat ? 1e-3 : bits.weight >= 8 && bits.act >= 8 ? 1e-5 : 1e-4;
  t.weight_decay = qat ? 0.0 : 1e-4;
  t.augment = false;  // a ViT this size underfits in 10 epochs: shifts and flips only slow it
}

std::string trained_model_name(const std::string& dir) {
  try {
    const auto r = nlohmann::json::parse(read_file_text(dir + "/report.json"));
    return r.at("model").get<std::string>();
  } catch (const std::exception&) {
    return "";  // the job reports the folder's problem in its own words
  }
}

void set_training_threads(int threads) { train_api().set_threads(threads); }

qat::JobResult run_train(const qat::TrainJob& job) { return train_api().run_train(job); }

qat::JobResult run_ptq(const qat::PtqJob& job, int64_t ref_limit, bool progress) {
  qat::JobResult r = train_api().run_ptq(job);
  add_int_reference(job.out, job.data, ref_limit, progress, r);
  return r;
}

qat::JobResult run_qat(qat::QatJob job, int64_t ref_limit, bool progress) {
  if (job.train.lr == 0) job.train.lr = qat_learning_rate(job.quant.bits);
  qat::JobResult r = train_api().run_qat(job);
  add_int_reference(job.out, job.data, ref_limit, progress, r);
  return r;
}

}  // namespace tpusim::workflow
