// The training loop's data path: augmentation (hand-worked shifts and flips, draws fixed by seed
// and epoch, labels kept with their images), evaluate() and to_tensors().
// libtorch first: its glog defines a CHECK macro that Catch's must replace.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "qat/trainer.h"
#include "tests/qat/trainer_fixtures.h"

using namespace tpusim;
using namespace tpusim::qat;
using namespace trainer_test;

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
