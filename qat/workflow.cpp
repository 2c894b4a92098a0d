#include "qat/workflow.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/file_io.h"
#include "qat/onnx_export.h"
#include "qat/ptq.h"
#include "qat/qnet.h"
#include "qat/trainer.h"
#include "qat/workflow_report.h"

namespace tpusim::qat {

namespace fs = std::filesystem;

namespace {

struct Data {
  ImageTensors train, test;
};

Data load_data(const DataOptions& d, bool need_train = true) {
  Data r;
  if (need_train)
    r.train = to_tensors(models::load_dataset(d.dataset, models::Split::Train).head(d.train_limit));
  r.test = to_tensors(models::load_dataset(d.dataset, models::Split::Test).head(d.test_limit));
  return r;
}

void make_out_dir(const std::string& out) {
  if (out.empty()) throw Error("no output folder given (--out DIR)");
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(fmt::format("{}: cannot create the output folder: {}", out, ec.message()));
}

template <class Module>
void save_module(Module& m, const std::string& path) {
  std::ostringstream s;
  torch::save(m, s);
  write_file_atomic(path, s.str());
}

template <class Module>
void load_module(Module& m, const std::string& path) {
  if (!fs::exists(path)) throw Error(fmt::format("{}: not found", path));
  try {
    torch::load(m, path);
  } catch (const c10::Error& e) {
    throw Error(
        fmt::format("{}: cannot load the model state: {}", path, std::string(e.what_without_backtrace())));
  }
}

std::string path_in(const std::string& dir, const char* file) { return (fs::path(dir) / file).string(); }

nlohmann::json read_report(const std::string& dir) {
  const std::string p = path_in(dir, "report.json");
  if (!fs::exists(p))
    throw Error(fmt::format("{}: not found ({} is not a `tpusim train` output folder)", p, dir));
  try {
    return nlohmann::json::parse(read_file_text(p));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not a valid report: {}", p, e.what()));
  }
}

void finish(const nlohmann::json& report, const std::string& out, const DeployModel& d) {
  export_onnx(d, path_in(out, "model.onnx"));
  write_report(out, report);
}

// Top-1 class of every image, in eval mode.
std::vector<int64_t> predict(torch::nn::Module& m,
                             const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                             const ImageTensors& set) {
  torch::NoGradGuard no_grad;
  const bool was_training = m.is_training();
  m.eval();
  std::vector<int64_t> v;
  v.reserve(static_cast<size_t>(set.size()));
  for (int64_t s = 0; s < set.size(); s += 256) {
    const torch::Tensor p =
        forward(set.images.slice(0, s, std::min(set.size(), s + 256))).argmax(1).contiguous();
    v.insert(v.end(), p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
  }
  m.train(was_training);
  return v;
}

double accuracy(const std::vector<int64_t>& pred, const ImageTensors& set) {
  const torch::Tensor labels = set.labels.contiguous();
  int64_t hits = 0;
  for (size_t i = 0; i < pred.size(); ++i) hits += pred[i] == labels.data_ptr<int64_t>()[i];
  return pred.empty() ? 0.0 : static_cast<double>(hits) / static_cast<double>(pred.size());
}

// What PTQ and QAT start from: the `tpusim train` folder's report and network, and the data.
struct FromTrained {
  nlohmann::json src;
  models::Net net;
  Data data;
};

FromTrained start_from(const std::string& from, const std::string& out, const DataOptions& d);

}  // namespace

void set_threads(int threads) {
  torch::set_num_threads(threads > 0 ? threads
                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

models::Net load_trained(const std::string& dir) {
  const nlohmann::json r = read_report(dir);
  if (r.value("kind", "") != "fp32")
    throw Error(fmt::format("{}: holds a '{}' model; --from wants a `tpusim train` folder", dir,
                            r.value("kind", "?")));
  const auto in = r.at("input");
  models::Net net(
      models::model_spec(r.at("model").get<std::string>(), in.at(0), in.at(1), in.at(2), r.at("classes")));
  load_module(net, path_in(dir, "model.pt"));
  return net;
}

namespace {

FromTrained start_from(const std::string& from, const std::string& out, const DataOptions& d) {
  make_out_dir(out);
  nlohmann::json src = read_report(from);
  models::Net net = load_trained(from);
  return {std::move(src), std::move(net), load_data(d)};
}

}  // namespace

JobResult run_train(const TrainJob& job) {
  make_out_dir(job.out);
  const Data data = load_data(job.data);
  const models::ModelSpec spec = models::model_spec(job.model, data.train.images.size(1),
                                                    data.train.images.size(2), data.train.images.size(3), 10);
  torch::manual_seed(job.train.seed);
  models::Net net(spec);
  TrainOptions opt = job.train;
  opt.checkpoint = path_in(job.out, "checkpoint.pt");
  TrainHooks hooks;
  hooks.forward = [&](const torch::Tensor& x) { return net->forward(x); };
  const auto history = train(*net, hooks, data.train, &data.test, opt);
  const std::vector<int64_t> pred = predict(*net, hooks.forward, data.test);
  const double acc = accuracy(pred, data.test);
  save_module(net, path_in(job.out, "model.pt"));

  nlohmann::json r = report_header("fp32", spec, job.data, data.train.size(), data.test.size());
  r["options"] = train_options_json(opt);
  r["history"] = history_json(history);
  r["seconds_per_epoch"] = seconds_per_epoch(history);
  r["accuracy"] = {{"fp32", acc}};
  finish(r, job.out, deploy_fp32(net));
  spdlog::info("{}: FP32 {} top-1 {:.2f}% on {} test images", job.out, job.model, 100 * acc,
               data.test.size());
  return {r, pred};
}

JobResult run_ptq(const PtqJob& job) {
  auto [src, net, data] = start_from(job.from, job.out, job.data);
  QuantConfig qc = job.quant;
  qc.algo = Algo::Fixed;
  QuantNet q(net, qc);
  const ImageTensors calib{data.train.images.slice(0, 0, job.calib_images),
                           data.train.labels.slice(0, 0, job.calib_images)};
  calibrate_ptq(q, calib, job.ptq);
  const std::vector<int64_t> pred = predict(
      *q, [&](const torch::Tensor& x) { return q->forward(x); }, data.test);
  const double acc = accuracy(pred, data.test);
  save_module(q, path_in(job.out, "model.pt"));

  nlohmann::json r = report_header("ptq", net->spec(), job.data, calib.size(), data.test.size());
  r["from"] = job.from;
  r["bits"] = job.bits;
  r["calibration"] = {
      {"method", name(job.ptq.method)}, {"images", calib.size()}, {"percentile", job.ptq.percentile}};
  r["accuracy"] = {{"fp32", src.at("accuracy").at("fp32")}, {"fake_quant", acc}};
  const DeployModel d = q->deploy();
  r["layers"] = layers_json(d);
  finish(r, job.out, d);
  spdlog::info("{}: PTQ {} ({}) fake-quant top-1 {:.2f}%", job.out, job.bits, name(job.ptq.method),
               100 * acc);
  return {r, pred};
}

JobResult run_qat(const QatJob& job) {
  auto [src, net, data] = start_from(job.from, job.out, job.data);
  QuantNet q(net, job.quant);
  q->set_mode(QuantMode::Quantize);
  TrainOptions opt = job.train;
  opt.checkpoint = path_in(job.out, "checkpoint.pt");
  TrainHooks hooks;
  hooks.forward = [&](const torch::Tensor& x) { return q->forward(x); };
  if (job.quant.algo == Algo::Pact) hooks.regularizer = [&] { return q->regularizer(job.pact_decay); };
  hooks.before_epoch = [&](int epoch) {
    q->freeze_bn(job.freeze_bn_epoch > 0 && epoch >= job.freeze_bn_epoch);
  };
  const auto history = train(*q, hooks, data.train, &data.test, opt);
  const std::vector<int64_t> pred = predict(*q, hooks.forward, data.test);
  const double acc = accuracy(pred, data.test);
  save_module(q, path_in(job.out, "model.pt"));

  nlohmann::json r = report_header("qat", net->spec(), job.data, data.train.size(), data.test.size());
  r["from"] = job.from;
  r["bits"] = job.bits;
  r["algo"] = name(job.quant.algo);
  r["freeze_bn_epoch"] = job.freeze_bn_epoch;
  r["options"] = train_options_json(opt);
  r["history"] = history_json(history);
  r["seconds_per_epoch"] = seconds_per_epoch(history);
  if (src.contains("seconds_per_epoch") && src["seconds_per_epoch"].get<double>() > 0)
    r["epoch_cost_vs_fp32"] = seconds_per_epoch(history) / src["seconds_per_epoch"].get<double>();
  r["accuracy"] = {{"fp32", src.at("accuracy").at("fp32")}, {"fake_quant", acc}};
  const DeployModel d = q->deploy();
  r["layers"] = layers_json(d);
  finish(r, job.out, d);
  spdlog::info("{}: QAT {} ({}) fake-quant top-1 {:.2f}%", job.out, job.bits, name(job.quant.algo),
               100 * acc);
  return {r, pred};
}

}  // namespace tpusim::qat
