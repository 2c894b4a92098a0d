// The training loop on a small synthetic problem: accuracy floors with SGD and Adam, hand-computed
// learning-rate schedules, checkpoint/resume giving bit-identical parameters, checkpoint errors,
// the NaN guard, augmentation (hand-worked shifts and flips), evaluate() and to_tensors().
// libtorch first: its glog defines a CHECK macro that Catch's must replace.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "isa/error.h"
#include "qat/trainer.h"

using namespace tpusim;
using namespace tpusim::qat;
namespace fs = std::filesystem;

namespace {

const bool kSingleThread = [] {
  torch::set_num_threads(1);
  return true;
}();

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("tpusim_trainer_test_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// 4 classes of 1x8x8 images: horizontal stripes, vertical stripes, a checkerboard, flat gray; a
// random phase per image and uniform noise. Stripes stay stripes under shifts and flips.
ImageTensors synthetic(int64_t per_class, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t n = 4 * per_class;
  const auto y = torch::arange(8).view({1, 1, 8, 1}), x = torch::arange(8).view({1, 1, 1, 8});
  const torch::Tensor phase = torch::randint(0, 2, {n, 1, 1, 1});
  const torch::Tensor labels = torch::arange(n) % 4;
  const auto l = labels.view({n, 1, 1, 1});
  torch::Tensor pattern = torch::where(l == 0, ((y + phase) % 2).to(torch::kFloat), torch::full({1}, 0.5f));
  pattern = torch::where(l == 1, ((x + phase) % 2).to(torch::kFloat), pattern);
  pattern = torch::where(l == 2, ((x + y + phase) % 2).to(torch::kFloat), pattern);
  const torch::Tensor images = (0.7 * pattern + 0.3 * torch::rand({n, 1, 8, 8})).clamp(0, 1);
  return {images.to(torch::kFloat), labels.to(torch::kInt64)};
}

struct TinyNetImpl : torch::nn::Module {
  explicit TinyNetImpl(int64_t channels = 4)
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, channels, 3).padding(1)))),
        fc(register_module("fc", torch::nn::Linear(channels * 64, 4))) {}
  torch::Tensor forward(const torch::Tensor& x) { return fc(torch::relu(conv(x)).flatten(1)); }
  torch::nn::Conv2d conv;
  torch::nn::Linear fc;
};
TORCH_MODULE(TinyNet);

TrainHooks hooks_for(TinyNet& net) {
  TrainHooks h;
  h.forward = [net](const torch::Tensor& x) mutable { return net->forward(x); };
  return h;
}

TrainOptions quick_options() {
  TrainOptions o;
  o.epochs = 3;
  o.batch_size = 32;
  o.lr = 0.05;
  o.progress = false;
  return o;
}

std::vector<torch::Tensor> parameters_of(const TinyNet& net) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net->parameters()) out.push_back(p.detach().clone());
  return out;
}

bool same_tensors(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

TinyNet fresh_net(uint64_t init_seed, int64_t channels = 4) {
  torch::manual_seed(init_seed);
  return TinyNet(channels);
}

}  // namespace

TEST_CASE("SGD and Adam learn a separable problem; cosine lr per epoch by hand") {
  const ImageTensors train_set = synthetic(100, 1), test_set = synthetic(50, 2);
  const std::string optimizer = GENERATE(as<std::string>{}, "sgd", "adam");
  TinyNet net = fresh_net(3);
  TrainOptions o = quick_options();
  o.optimizer = optimizer;
  o.lr = optimizer == "sgd" ? 0.1 : 0.01;
  o.batch_size = 16;
  o.epochs = 8;
  const std::vector<EpochStats> h = train(*net, hooks_for(net), train_set, &test_set, o);
  REQUIRE(h.size() == 8);
  // 0.5 (1 + cos(pi k / 8)), k = 0..7, from Python's math.cos.
  const double expected[8] = {1.0, 0.9619397662556434,  0.8535533905932737,  0.6913417161825449,
                              0.5, 0.30865828381745514, 0.14644660940672627, 0.03806023374435663};
  for (int e = 0; e < 8; ++e) {
    CHECK(h[e].epoch == e + 1);
    CHECK(h[e].lr == Approx(o.lr * expected[e]).epsilon(1e-12));
    CHECK(h[e].images_per_second > 0);
  }
  CHECK(h.back().test_accuracy >= 0.95);
  CHECK(h.back().train_accuracy >= 0.9);
  CHECK(h.back().loss < h.front().loss);
  CHECK(evaluate(*net, hooks_for(net).forward, test_set) == Approx(h.back().test_accuracy));
}

TEST_CASE("step schedule: lr by hand, and the lr is what the optimizer really uses") {
  const ImageTensors train_set = synthetic(20, 1);
  TinyNet net = fresh_net(3);
  TrainOptions o = quick_options();
  o.schedule = "step";
  o.lr = 0.1;
  o.step_epochs = 2;
  o.step_gamma = 0.5;
  o.epochs = 5;
  std::vector<EpochStats> h = train(*net, hooks_for(net), train_set, nullptr, o);
  REQUIRE(h.size() == 5);
  const double expected[5] = {0.1, 0.1, 0.05, 0.05, 0.025};
  for (int e = 0; e < 5; ++e) CHECK(h[e].lr == Approx(expected[e]).epsilon(1e-12));
  CHECK(h[0].test_accuracy == -1);

  // gamma 0: lr 0 from epoch 2 on, so the parameters must not move after epoch 1.
  o.step_epochs = 1;
  o.step_gamma = 0;
  o.epochs = 3;
  std::vector<torch::Tensor> after_epoch1;
  TrainHooks hooks = hooks_for(net);
  hooks.before_epoch = [&](int epoch) {
    if (epoch == 2) after_epoch1 = parameters_of(net);
  };
  h = train(*net, hooks, train_set, nullptr, o);
  CHECK(h[1].lr == 0);
  REQUIRE(!after_epoch1.empty());
  CHECK(same_tensors(parameters_of(net), after_epoch1));
}

TEST_CASE("resume: 1 epoch + checkpoint + a fresh model resumed to 3 equals 3 epochs straight") {
  TempDir dir;
  const ImageTensors train_set = synthetic(25, 1), test_set = synthetic(10, 2);
  const std::string optimizer = GENERATE(as<std::string>{}, "sgd", "adam");
  TrainOptions o = quick_options();
  o.optimizer = optimizer;
  o.lr = optimizer == "sgd" ? 0.05 : 0.01;
  o.augment = true;  // the augmentation, too, must not depend on what ran before

  TinyNet straight = fresh_net(3);
  const std::vector<EpochStats> h3 = train(*straight, hooks_for(straight), train_set, &test_set, o);

  TrainOptions first = o;
  first.checkpoint = dir.file("ck.pt");
  TinyNet part = fresh_net(3);
  // epochs=3 but stopped after epoch 1: the schedule is the 3-epoch one.
  TrainHooks stop_after_1 = hooks_for(part);
  stop_after_1.before_epoch = [](int epoch) {
    if (epoch == 2) throw std::runtime_error("stop");
  };
  CHECK_THROWS_WITH(train(*part, stop_after_1, train_set, &test_set, first), "stop");

  TrainOptions resumed = first;
  resumed.resume = true;
  TinyNet fresh = fresh_net(99);  // other initial weights: the checkpoint must replace them
  std::vector<int> epochs_run;
  TrainHooks hooks = hooks_for(fresh);
  hooks.before_epoch = [&](int epoch) { epochs_run.push_back(epoch); };
  const std::vector<EpochStats> h = train(*fresh, hooks, train_set, &test_set, resumed);
  CHECK((epochs_run == std::vector<int>{2, 3}));
  REQUIRE(h.size() == 3);
  CHECK(h[0].loss == h3[0].loss);  // restored from the checkpoint
  CHECK(h[2].loss == h3[2].loss);
  CHECK(same_tensors(parameters_of(fresh), parameters_of(straight)));
}

TEST_CASE("resume: a finished 2-epoch run resumed with epochs=3 trains epoch 3 only") {
  TempDir dir;
  const ImageTensors train_set = synthetic(10, 1);
  TrainOptions o = quick_options();
  o.epochs = 2;
  o.checkpoint = dir.file("ck.pt");
  TinyNet net = fresh_net(3);
  const std::vector<EpochStats> h2 = train(*net, hooks_for(net), train_set, nullptr, o);
  o.epochs = 3;
  o.resume = true;
  TinyNet again = fresh_net(5);
  std::vector<int> epochs_run;
  TrainHooks hooks = hooks_for(again);
  hooks.before_epoch = [&](int epoch) { epochs_run.push_back(epoch); };
  const std::vector<EpochStats> h3 = train(*again, hooks, train_set, nullptr, o);
  CHECK((epochs_run == std::vector<int>{3}));
  REQUIRE(h3.size() == 3);
  CHECK(h3[1].epoch == 2);
  CHECK(h3[1].loss == h2[1].loss);
  CHECK(h3[1].lr == h2[1].lr);
  CHECK(h3[2].epoch == 3);
  // Resumed again with nothing left to do: the history only.
  epochs_run.clear();
  CHECK(train(*again, hooks, train_set, nullptr, o).size() == 3);
  CHECK(epochs_run.empty());
}

TEST_CASE("resume without a checkpoint file starts from scratch; --resume needs a file name") {
  TempDir dir;
  const ImageTensors train_set = synthetic(5, 1);
  TrainOptions o = quick_options();
  o.epochs = 2;
  o.resume = true;
  o.checkpoint = dir.file("missing.pt");
  TinyNet net = fresh_net(3);
  std::vector<int> epochs_run;
  TrainHooks hooks = hooks_for(net);
  hooks.before_epoch = [&](int epoch) { epochs_run.push_back(epoch); };
  CHECK(train(*net, hooks, train_set, nullptr, o).size() == 2);
  CHECK((epochs_run == std::vector<int>{1, 2}));
  CHECK(fs::exists(o.checkpoint));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);  // no temp file left

  o.checkpoint.clear();
  CHECK_THROWS_WITH(train(*net, hooks, train_set, nullptr, o), "train: --resume needs a checkpoint file");
}

TEST_CASE("checkpoint errors: another model's checkpoint, an unreadable file, a foreign archive") {
  TempDir dir;
  const ImageTensors train_set = synthetic(5, 1);
  TrainOptions o = quick_options();
  o.epochs = 1;
  o.checkpoint = dir.file("ck.pt");
  TinyNet net = fresh_net(3);
  train(*net, hooks_for(net), train_set, nullptr, o);
  o.resume = true;
  o.epochs = 2;

  TinyNet narrow = fresh_net(4, /*channels=*/2);
  const std::vector<torch::Tensor> before = parameters_of(narrow);
  CHECK_THROWS_WITH(train(*narrow, hooks_for(narrow), train_set, nullptr, o),
                    "checkpoint " + o.checkpoint +
                        ": parameter conv.weight has shape [4, 1, 3, 3], the model's is [2, 1, 3, 3]");
  CHECK(same_tensors(parameters_of(narrow), before));  // left untouched

  torch::nn::Sequential other(torch::nn::Flatten(), torch::nn::Linear(64, 4));
  TrainHooks other_hooks;
  other_hooks.forward = [other](const torch::Tensor& x) mutable { return other->forward(x); };
  CHECK_THROWS_WITH(train(*other, other_hooks, train_set, nullptr, o),
                    "checkpoint " + o.checkpoint +
                        ": parameter conv.weight where the model has parameter 1.weight "
                        "(another model?)");

  std::ofstream(o.checkpoint, std::ios::binary) << "not a checkpoint at all";
  CHECK_THROWS_WITH(
      train(*net, hooks_for(net), train_set, nullptr, o),
      Catch::StartsWith("checkpoint " + o.checkpoint + ": cannot read it: ") && !Catch::Contains("\n"));

  torch::serialize::OutputArchive foreign;
  foreign.write("x", torch::ones({2}));
  foreign.save_to(o.checkpoint);
  CHECK_THROWS_WITH(train(*net, hooks_for(net), train_set, nullptr, o),
                    "checkpoint " + o.checkpoint + ": not a tpusim training checkpoint (format 1)");
}

TEST_CASE("NaN guard: the error names epoch and batch; the previous checkpoint still loads") {
  TempDir dir;
  const ImageTensors train_set = synthetic(25, 1);  // 100 images: 4 batches of 32, 32, 32, 4
  TrainOptions o = quick_options();
  o.label = "qat";
  o.checkpoint = dir.file("ck.pt");
  TinyNet net = fresh_net(3);
  int epoch_now = 0, batch_now = 0;
  std::vector<torch::Tensor> after_epoch1;
  TrainHooks hooks;
  hooks.before_epoch = [&](int epoch) {
    epoch_now = epoch;
    batch_now = 0;
    if (epoch == 2) after_epoch1 = parameters_of(net);
  };
  hooks.forward = [&](const torch::Tensor& x) {
    const torch::Tensor logits = net->forward(x);
    return ++batch_now == 4 && epoch_now == 2 ? logits * std::nan("") : logits;
  };
  CHECK_THROWS_WITH(train(*net, hooks, train_set, nullptr, o),
                    "qat: loss is nan at epoch 2, batch 4: training diverged (try a lower --lr); "
                    "the checkpoint of epoch 1 is kept (" +
                        o.checkpoint + ")");
  batch_now = 0;  // an infinite regularizer in epoch 1, before any checkpoint was written
  hooks.before_epoch = {};
  hooks.forward = [&](const torch::Tensor& x) {
    ++batch_now;
    return net->forward(x);
  };
  hooks.regularizer = [&] { return torch::tensor(batch_now == 2 ? INFINITY : 0.0f); };
  o.checkpoint = dir.file("other.pt");
  CHECK_THROWS_WITH(train(*net, hooks, train_set, nullptr, o),
                    Catch::StartsWith("qat: loss is inf at epoch 1, batch 2:") &&
                        Catch::EndsWith("; no checkpoint was written yet"));

  TrainOptions resume = quick_options();
  resume.checkpoint = dir.file("ck.pt");
  resume.resume = true;
  resume.epochs = 1;
  TinyNet fresh = fresh_net(8);
  CHECK(train(*fresh, hooks_for(fresh), train_set, nullptr, resume).size() == 1);
  REQUIRE(!after_epoch1.empty());
  CHECK(same_tensors(parameters_of(fresh), after_epoch1));
}

TEST_CASE("augmentation: hand-worked shifts and flips with zero fill, draws fixed by (seed, epoch)") {
  // Image 3x4 = 1..12 on channel 0, times 10 on channel 1.
  const torch::Tensor one = torch::arange(1, 13, torch::kFloat).view({1, 3, 4});
  const torch::Tensor images = torch::cat({one, one * 10}).unsqueeze(0).repeat({3, 1, 1, 1});
  AugmentDraws d;
  d.shift_y = torch::tensor({1, 0, -2}, torch::kInt64);
  d.shift_x = torch::tensor({-1, 0, 2}, torch::kInt64);
  d.flip = torch::tensor({false, true, true});
  const torch::Tensor out = augment(images, d);
  const torch::Tensor expected =
      torch::tensor({0, 0, 0,  0,  2, 3, 4, 0, 6,  7,  8,  0,   // down 1, left 1
                     4, 3, 2,  1,  8, 7, 6, 5, 12, 11, 10, 9,   // mirrored
                     0, 0, 12, 11, 0, 0, 0, 0, 0,  0,  0,  0},  // mirrored, up 2, right 2
                    torch::kFloat)
          .view({3, 1, 3, 4});
  CHECK(torch::equal(out.narrow(1, 0, 1), expected));
  CHECK(torch::equal(out.narrow(1, 1, 1), expected * 10));

  const AugmentDraws a = draw_augmentation(200, 7, 3), b = draw_augmentation(200, 7, 3);
  CHECK(torch::equal(a.shift_y, b.shift_y));
  CHECK(torch::equal(a.shift_x, b.shift_x));
  CHECK(torch::equal(a.flip, b.flip));
  CHECK(!torch::equal(a.shift_x, draw_augmentation(200, 7, 4).shift_x));
  CHECK(!torch::equal(a.shift_x, draw_augmentation(200, 8, 3).shift_x));
  CHECK(a.shift_y.min().item<int64_t>() == -2);
  CHECK(a.shift_y.max().item<int64_t>() == 2);
  CHECK(a.flip.sum().item<int64_t>() > 50);
  CHECK(a.flip.sum().item<int64_t>() < 150);
  const torch::Tensor index = torch::tensor({5, 0}, torch::kInt64);
  CHECK(a.select(index).shift_x[0].item<int64_t>() == a.shift_x[5].item<int64_t>());

  // Labels stay with their images: trained on shifted/flipped stripes, the net still learns them.
  const ImageTensors train_set = synthetic(100, 1), test_set = synthetic(50, 2);
  TinyNet net = fresh_net(3);
  TrainOptions o = quick_options();
  o.augment = true;
  o.batch_size = 16;
  o.lr = 0.1;
  o.epochs = 8;
  CHECK(train(*net, hooks_for(net), train_set, &test_set, o).back().test_accuracy >= 0.9);
}

TEST_CASE("evaluate: known accuracy over partial batches, eval mode inside, modes restored after") {
  // Class 0 when x > 0.5: images 0.0, 0.1, ..., 0.9 and labels right for 7 of the 10.
  const torch::Tensor x = torch::arange(10, torch::kFloat).div(10).view({10, 1, 1, 1});
  const torch::Tensor labels = torch::tensor({1, 1, 1, 1, 1, 1, 0, 0, 1, 1}, torch::kInt64);
  torch::nn::Sequential model(torch::nn::BatchNorm2d(1));
  model->train();
  model[0]->eval();  // a frozen BN must stay frozen
  int calls = 0;
  auto forward = [&](const torch::Tensor& images) {
    ++calls;
    CHECK(!model->is_training());
    CHECK(!torch::GradMode::is_enabled());
    const torch::Tensor v = images.flatten(1);
    return torch::cat({v - 0.5, 0.5 - v}, 1);
  };
  CHECK(evaluate(*model, forward, {x, labels}, 3) == Approx(0.7));
  CHECK(calls == 4);  // 3 + 3 + 3 + 1
  CHECK(model->is_training());
  CHECK(!model[0]->is_training());
  model->eval();
  CHECK(evaluate(*model, forward, {x, labels}, 100) == Approx(0.7));
  CHECK(!model->is_training());
}

TEST_CASE("to_tensors: pixels / 255 in NCHW, int64 labels; size mismatches name the source") {
  models::ImageSet set;
  set.count = 2;
  set.channels = 1;
  set.height = 1;
  set.width = 2;
  set.classes = 10;
  set.pixels = {0, 255, 51, 102};
  set.labels = {3, 9};
  set.source = "mini.idx";
  const ImageTensors t = to_tensors(set);
  CHECK(t.images.sizes() == torch::IntArrayRef({2, 1, 1, 2}));
  CHECK(t.images.dtype() == torch::kFloat32);
  CHECK(torch::equal(t.images.flatten(), torch::tensor({0.0f, 1.0f, 0.2f, 0.4f})));
  CHECK(torch::equal(t.labels, torch::tensor({3, 9}, torch::kInt64)));
  set.pixels.pop_back();
  CHECK_THROWS_WITH(to_tensors(set),
                    "mini.idx: 2 images of 1x1x2 need 4 pixels and 2 labels, the set has 3 and 2");
}
