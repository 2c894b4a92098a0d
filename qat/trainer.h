// The training loop shared by FP32 training and QAT fine-tuning: SGD or Adam, step or cosine
// learning-rate schedule, seeded shuffling (and optional augmentation) derived from seed + epoch
// so a resumed run sees the same batches, a checkpoint after every epoch (atomic), --resume, a NaN
// guard, and a progress bar with loss, accuracy and images/s.
//
// Determinism: each epoch's permutation, augmentation and libtorch's global generator (dropout) are
// seeded from (seed, epoch), never from the previous epoch's state, so 3 epochs straight and
// 1 epoch + checkpoint + resume to 3 give identical parameters (single-threaded CPU).
//
// Checkpoint (one libtorch archive, written to a temporary file then renamed): every named
// parameter and buffer of the model (names and shapes checked on resume), the optimizer state,
// the number of completed epochs and their EpochStats.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "qat/image_tensors.h"
#include "qat/jobs.h"

namespace tpusim::qat {

struct EpochStats {
  int epoch = 0;                                                    // 1-based
  double lr = 0, loss = 0, train_accuracy = 0, test_accuracy = -1;  // test -1: no test set
  double seconds = 0, images_per_second = 0;
  // loss: per-image mean of the batch losses (regularizer included); train_accuracy: of the
  // training-mode outputs seen during the epoch; seconds: the whole epoch, test included;
  // images_per_second: training images over training time.
};

// What the caller plugs in: the forward pass (the network, possibly with fake quantization), an
// optional extra loss term (PACT's L2 on alpha), and a hook before each epoch (BN freezing).
struct TrainHooks {
  std::function<torch::Tensor(const torch::Tensor& images)> forward;
  std::function<torch::Tensor()> regularizer;   // may be empty
  std::function<void(int epoch)> before_epoch;  // 1-based; may be empty
};

// The learning rate of `epoch` (1-based), set at the epoch's start. cosine: 0.5 lr (1 + cos(pi
// (epoch-1) / epochs)); step: lr * step_gamma^floor((epoch-1) / step_epochs).
double scheduled_lr(const TrainOptions& options, int epoch);

// Trains `model`'s parameters for options.epochs epochs (from the checkpoint's next epoch when
// resuming) and returns the statistics of every epoch, including the ones restored from the
// checkpoint. Per epoch: model.train(), then hooks.before_epoch, then the batches (a shuffled
// index_select of the in-memory tensors; the last batch may be partial), loss = cross entropy +
// hooks.regularizer(); then test accuracy (when test_set), one spdlog info line and the checkpoint.
// Throws Error for bad options, when the loss turns NaN/inf (naming epoch and batch; the last
// checkpoint is kept) or the checkpoint cannot be read/written or does not fit the model.
std::vector<EpochStats> train(torch::nn::Module& model, const TrainHooks& hooks,
                              const ImageTensors& train_set, const ImageTensors* test_set,
                              const TrainOptions& options);

// Top-1 accuracy (0..1) of forward over the set, in eval mode, no grad; progress bar when asked.
// Every submodule's train/eval mode is restored afterwards (a BN frozen in eval stays so). An
// empty set gives 0.
double evaluate(torch::nn::Module& model, const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                const ImageTensors& set, int64_t batch_size = 256, bool progress = false,
                const std::string& label = "eval");

}  // namespace tpusim::qat
