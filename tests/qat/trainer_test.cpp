// The training loop on a small synthetic problem: accuracy floors with SGD and Adam, hand-computed
// learning-rate schedules, checkpoint/resume giving bit-identical parameters, checkpoint errors,
// the NaN guard. The data path (augmentation, evaluate, to_tensors) is in trainer_data_test.cpp.
// libtorch first: its glog defines a CHECK macro that Catch's must replace.
#include "qat/trainer.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "tests/qat/trainer_fixtures.h"

using namespace tpusim;
using namespace tpusim::qat;
using namespace trainer_test;
namespace fs = std::filesystem;

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
