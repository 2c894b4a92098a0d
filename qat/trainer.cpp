#include "qat/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <sstream>

#include "base/error.h"
#include "base/file_io.h"
#include "base/progress.h"

namespace tpusim::qat {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kCheckpointFormat = 1;
constexpr int64_t kStatFields = 7;  // the EpochStats fields, as one row of the history tensor

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool progress_shown(bool asked) { return asked && spdlog::default_logger()->should_log(spdlog::level::info); }

ProgressOutput progress_output() {
  return ProgressOutput::to_stderr([](const std::string& line) { spdlog::info("{}", line); });
}

void check_options(const TrainOptions& o, const TrainHooks& hooks, const ImageTensors& train_set) {
  auto fail = [&o](const std::string& what) { throw Error(fmt::format("{}: {}", o.label, what)); };
  if (!hooks.forward) fail("no forward function");
  if (o.epochs < 0) fail(fmt::format("--epochs must be >= 0, not {}", o.epochs));
  if (o.batch_size <= 0) fail(fmt::format("--batch-size must be > 0, not {}", o.batch_size));
  if (!(o.lr > 0)) fail(fmt::format("--lr must be > 0, not {}", o.lr));
  if (o.optimizer != "sgd" && o.optimizer != "adam")
    fail(fmt::format("unknown --optimizer '{}' (sgd or adam)", o.optimizer));
  if (o.schedule != "cosine" && o.schedule != "step")
    fail(fmt::format("unknown --schedule '{}' (cosine or step)", o.schedule));
  if (o.schedule == "step" && o.step_epochs <= 0)
    fail(fmt::format("--step-epochs must be > 0, not {}", o.step_epochs));
  if (o.resume && o.checkpoint.empty()) fail("--resume needs a checkpoint file");
  if (!train_set.images.defined() || train_set.size() == 0) fail("the training set is empty");
}

// Quantizer parameters (LSQ steps, PACT alphas) are not weight-decayed: decay would pull the
// grid towards zero width, and PACT's own L2 on alpha is an explicit regularizer.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model, const TrainOptions& o) {
  std::vector<torch::Tensor> decayed, quant;
  for (const auto& p : model.named_parameters()) {
    const std::string& n = p.key();
    const bool q = n == "step" || n == "alpha" || n.ends_with(".step") || n.ends_with(".alpha");
    (q ? quant : decayed).push_back(p.value());
  }
  auto groups = [&](auto options) {
    std::vector<torch::optim::OptimizerParamGroup> g;
    g.emplace_back(decayed, std::make_unique<decltype(options)>(options));
    if (!quant.empty()) {
      auto no_decay = options;
      no_decay.weight_decay(0);
      g.emplace_back(quant, std::make_unique<decltype(options)>(no_decay));
    }
    return g;
  };
  if (o.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(
        groups(torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay)),
        torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  const auto sgd = torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay);
  return std::make_unique<torch::optim::SGD>(groups(sgd), sgd);
}

// ---- checkpoint ----------------------------------------------------------------------------

// The model's tensors in a fixed order, named as the checkpoint names them.
std::vector<std::pair<std::string, torch::Tensor>> model_tensors(const torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : model.named_parameters(true)) out.emplace_back("parameter " + p.key(), p.value());
  for (const auto& b : model.named_buffers(true)) out.emplace_back("buffer " + b.key(), b.value());
  return out;
}

std::string shape_text(torch::IntArrayRef sizes) { return fmt::format("[{}]", fmt::join(sizes, ", ")); }

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer& opt, const std::vector<EpochStats>& history) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(kCheckpointFormat));
  archive.write("epochs_done", c10::IValue(static_cast<int64_t>(history.size())));
  torch::Tensor stats = torch::empty({static_cast<int64_t>(history.size()), kStatFields}, torch::kFloat64);
  for (size_t i = 0; i < history.size(); ++i) {
    const EpochStats& s = history[i];
    const double row[kStatFields] = {
        double(s.epoch), s.lr, s.loss, s.train_accuracy, s.test_accuracy, s.seconds, s.images_per_second};
    for (int64_t k = 0; k < kStatFields; ++k) stats[static_cast<int64_t>(i)][k] = row[k];
  }
  archive.write("history", stats, /*is_buffer=*/true);
  c10::List<std::string> names;
  torch::serialize::OutputArchive tensors(archive.compilation_unit());
  for (const auto& [name, tensor] : model_tensors(model)) {
    tensors.write(fmt::format("t{}", names.size()), tensor.detach(), /*is_buffer=*/true);
    names.push_back(name);
  }
  archive.write("names", c10::IValue(names));
  archive.write("tensors", tensors);
  torch::serialize::OutputArchive optimizer(archive.compilation_unit());
  opt.save(optimizer);
  archive.write("optimizer", optimizer);
  std::ostringstream bytes;
  try {
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("checkpoint {}: cannot write: {}", path, first_line(e.what_without_backtrace())));
  }
  write_file_atomic(path, bytes.str());
}

// Restores the model and optimizer; returns the history. The model is left untouched when a
// tensor's name or shape does not match (nothing is copied before every tensor was checked).
std::vector<EpochStats> load_checkpoint(const std::string& path, torch::nn::Module& model,
                                        torch::optim::Optimizer& opt) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  auto fail = [&path](const std::string& what) { throw Error(fmt::format("checkpoint {}: {}", path, what)); };
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    c10::IValue format, names;
    if (!archive.try_read("format", format) || !format.isInt() || format.toInt() != kCheckpointFormat ||
        !archive.try_read("names", names) || !names.isList())
      fail(fmt::format("not a tpusim training checkpoint (format {})", kCheckpointFormat));
    const auto saved_names = names.toListRef();
    const auto current = model_tensors(model);
    torch::serialize::InputArchive tensors;
    archive.read("tensors", tensors);
    std::vector<torch::Tensor> saved(current.size());
    for (size_t i = 0; i < std::max(current.size(), saved_names.size()); ++i) {
      if (i >= saved_names.size())
        fail(fmt::format("no {} (the checkpoint has {} tensors, the model {}: another model?)",
                         current[i].first, saved_names.size(), current.size()));
      const std::string& name = saved_names[i].toStringRef();
      if (i >= current.size())
        fail(fmt::format(
            "{} is not in the model (the checkpoint has {} tensors, the model {}: another model?)", name,
            saved_names.size(), current.size()));
      if (name != current[i].first)
        fail(fmt::format("{} where the model has {} (another model?)", name, current[i].first));
      tensors.read(fmt::format("t{}", i), saved[i], /*is_buffer=*/true);
      if (saved[i].sizes() != current[i].second.sizes())
        fail(fmt::format("{} has shape {}, the model's is {}", name, shape_text(saved[i].sizes()),
                         shape_text(current[i].second.sizes())));
    }
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < current.size(); ++i) current[i].second.copy_(saved[i]);
    }
    torch::serialize::InputArchive optimizer;
    archive.read("optimizer", optimizer);
    opt.load(optimizer);
    torch::Tensor stats;
    archive.read("history", stats, /*is_buffer=*/true);
    std::vector<EpochStats> history(static_cast<size_t>(stats.size(0)));
    for (size_t i = 0; i < history.size(); ++i) {
      const auto row = stats[static_cast<int64_t>(i)].contiguous();
      const double* v = row.data_ptr<double>();
      history[i] = {static_cast<int>(v[0]), v[1], v[2], v[3], v[4], v[5], v[6]};
    }
    return history;
  } catch (const c10::Error& e) {
    fail(fmt::format("cannot read it: {}", first_line(e.what_without_backtrace())));
  }
  return {};
}

// ---- one epoch -----------------------------------------------------------------------------

struct EpochTotals {
  double loss_sum = 0;  // per-image sum
  int64_t correct = 0, images = 0;
};

std::string nan_error(const TrainOptions& o, double loss, int epoch, int64_t batch) {
  std::string kept;
  if (!o.checkpoint.empty())
    kept = epoch > 1 ? fmt::format("; the checkpoint of epoch {} is kept ({})", epoch - 1, o.checkpoint)
                     : std::string("; no checkpoint was written yet");
  return fmt::format("{}: loss is {} at epoch {}, batch {}: training diverged (try a lower --lr){}", o.label,
                     std::isnan(loss) ? "nan" : "inf", epoch, batch, kept);
}

EpochTotals train_epoch(const TrainHooks& hooks, const ImageTensors& set, torch::optim::Optimizer& opt,
                        const TrainOptions& o, int epoch) {
  const int64_t n = set.size();
  at::Generator shuffle = at::make_generator<at::CPUGeneratorImpl>(epoch_seed(o.seed, epoch, 0));
  const torch::Tensor order = torch::randperm(n, shuffle, torch::TensorOptions().dtype(torch::kInt64));
  const AugmentDraws draws = o.augment ? draw_augmentation(n, o.seed, epoch) : AugmentDraws{};
  Progress bar(fmt::format("{} {}/{}", o.label, epoch, o.epochs), "img", progress_shown(o.progress),
               progress_output());
  EpochTotals t;
  const auto start = Clock::now();
  for (int64_t first = 0, batch = 1; first < n; first += o.batch_size, ++batch) {
    const torch::Tensor index = order.narrow(0, first, std::min(o.batch_size, n - first));
    ImageTensors b = set.select(index);
    if (o.augment) b.images = augment(b.images, draws.select(index));
    opt.zero_grad();
    const torch::Tensor logits = hooks.forward(b.images);
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits, b.labels);
    if (hooks.regularizer) loss = loss + hooks.regularizer();
    const double value = loss.item<double>();
    if (!std::isfinite(value)) throw Error(nan_error(o, value, epoch, batch));
    loss.backward();
    opt.step();
    t.loss_sum += value * static_cast<double>(b.size());
    t.correct += logits.detach().argmax(1).eq(b.labels).sum().item<int64_t>();
    t.images += b.size();
    const double images = static_cast<double>(t.images);
    bar.set_suffix(fmt::format("loss {:.4f}  acc {:.1f}%  {:.0f} img/s", t.loss_sum / images,
                               100.0 * static_cast<double>(t.correct) / images,
                               images / seconds_since(start)));
    bar.update(t.images, n);
  }
  return t;
}

// Puts every module's train/eval mode back on scope exit (also when forward throws). Modes are
// kept in pre-order (the model, then each submodule), so restoring in that order puts back a
// submodule that differed from its parent (a BN frozen in eval).
class TrainModesRestorer {
 public:
  explicit TrainModesRestorer(torch::nn::Module& model) {
    modes_.emplace_back(&model, model.is_training());
    for (const auto& m : model.modules(/*include_self=*/false))
      modes_.emplace_back(m.get(), m->is_training());
  }
  ~TrainModesRestorer() {
    for (const auto& [m, training] : modes_) m->train(training);
  }
  TrainModesRestorer(const TrainModesRestorer&) = delete;
  TrainModesRestorer& operator=(const TrainModesRestorer&) = delete;

 private:
  std::vector<std::pair<torch::nn::Module*, bool>> modes_;
};

}  // namespace

double scheduled_lr(const TrainOptions& o, int epoch) {
  if (o.schedule == "step") return o.lr * std::pow(o.step_gamma, (epoch - 1) / o.step_epochs);
  return 0.5 * o.lr * (1.0 + std::cos(std::numbers::pi * (epoch - 1) / o.epochs));
}

std::vector<EpochStats> train(torch::nn::Module& model, const TrainHooks& hooks,
                              const ImageTensors& train_set, const ImageTensors* test_set,
                              const TrainOptions& options) {
  const TrainOptions& o = options;
  check_options(o, hooks, train_set);
  ImageTensors set{train_set.images, train_set.labels.to(torch::kInt64)};  // cross entropy wants int64
  std::unique_ptr<torch::optim::Optimizer> opt = make_optimizer(model, o);
  std::vector<EpochStats> history;
  if (o.resume) {
    if (std::filesystem::exists(o.checkpoint)) {
      history = load_checkpoint(o.checkpoint, model, *opt);
      spdlog::info("{}: resumed from {} after epoch {}{}", o.label, o.checkpoint, history.size(),
                   static_cast<int>(history.size()) >= o.epochs
                       ? fmt::format(" of {}: nothing left to train", o.epochs)
                       : "");
    } else {
      spdlog::info("{}: no checkpoint {} yet, starting from scratch", o.label, o.checkpoint);
    }
  }
  for (int epoch = static_cast<int>(history.size()) + 1; epoch <= o.epochs; ++epoch) {
    const auto start = Clock::now();
    EpochStats s;
    s.epoch = epoch;
    s.lr = scheduled_lr(o, epoch);
    for (auto& group : opt->param_groups()) group.options().set_lr(s.lr);
    torch::manual_seed(epoch_seed(o.seed, epoch, 2));  // dropout: the same stream on resume
    model.train();
    if (hooks.before_epoch) hooks.before_epoch(epoch);
    const EpochTotals t = train_epoch(hooks, set, *opt, o, epoch);
    const double train_seconds = seconds_since(start);
    s.loss = t.loss_sum / static_cast<double>(t.images);
    s.train_accuracy = static_cast<double>(t.correct) / static_cast<double>(t.images);
    s.images_per_second = static_cast<double>(t.images) / std::max(train_seconds, 1e-9);
    if (test_set)
      s.test_accuracy = evaluate(model, hooks.forward, *test_set, std::max<int64_t>(o.batch_size, 256),
                                 o.progress, fmt::format("{} {}/{} test", o.label, epoch, o.epochs));
    s.seconds = seconds_since(start);
    history.push_back(s);
    spdlog::info(
        "{} epoch {}/{}: lr {:.4g}  loss {:.4f}  train acc {:.2f}%  {}  {:.1f} s  {:.0f} img/s", o.label,
        epoch, o.epochs, s.lr, s.loss, 100 * s.train_accuracy,
        test_set ? fmt::format("test acc {:.2f}%", 100 * s.test_accuracy) : std::string("no test set"),
        s.seconds, s.images_per_second);
    if (!o.checkpoint.empty()) save_checkpoint(o.checkpoint, model, *opt, history);
  }
  return history;
}

double evaluate(torch::nn::Module& model, const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                const ImageTensors& set, int64_t batch_size, bool progress, const std::string& label) {
  if (!set.images.defined() || set.size() == 0) return 0;
  if (batch_size <= 0) throw Error(fmt::format("{}: batch size must be > 0, not {}", label, batch_size));
  const TrainModesRestorer restore(model);
  model.eval();
  int64_t correct = 0;
  {
    torch::NoGradGuard no_grad;
    Progress bar(label, "img", progress_shown(progress), progress_output());
    const int64_t n = set.size();
    for (int64_t first = 0; first < n; first += batch_size) {
      const int64_t count = std::min(batch_size, n - first);
      const torch::Tensor logits = forward(set.images.narrow(0, first, count));
      correct +=
          logits.argmax(1).eq(set.labels.narrow(0, first, count).to(torch::kInt64)).sum().item<int64_t>();
      bar.update(first + count, n);
    }
  }
  return static_cast<double>(correct) / static_cast<double>(set.size());
}

}  // namespace tpusim::qat
