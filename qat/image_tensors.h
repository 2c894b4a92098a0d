// A dataset as libtorch tensors: images float32 [N, C, H, W] with pixels scaled to [0, 1] (the
// exported model's input convention; any other normalisation lives inside the model), labels
// int64 [N]. Also the training augmentation (random shifts with zero fill and horizontal flips),
// drawn per image from (seed, epoch) so that a resumed run sees the same augmented batches.
#pragma once
#include <torch/torch.h>

#include <cstdint>

#include "models/dataset.h"

namespace tpusim::qat {

struct ImageTensors {
  torch::Tensor images;  // float32 [N, C, H, W] in [0, 1]
  torch::Tensor labels;  // int64 [N]
  int64_t size() const { return labels.size(0); }
  // The images and labels at `index` (int64 [B]), in that order: a batch.
  ImageTensors select(const torch::Tensor& index) const;
};

// uint8 pixels / 255, NCHW as stored; labels widened to int64. Throws Error naming set.source
// when the pixel or label count does not match the header fields.
ImageTensors to_tensors(const models::ImageSet& set);

// A 64-bit seed for one purpose (`stream`) in one epoch, mixed from the run's seed (splitmix64):
// nearby seeds and epochs give unrelated streams.
uint64_t epoch_seed(uint64_t seed, int epoch, uint64_t stream);

// Per image: shift_y/shift_x (int64 [N], in [-max_shift, max_shift]; positive moves the content
// down/right) and flip (bool [N]; mirrored left-right before the shift).
struct AugmentDraws {
  torch::Tensor shift_y, shift_x, flip;
  AugmentDraws select(const torch::Tensor& index) const;  // the draws of a batch
};

inline constexpr int64_t kAugmentMaxShift = 2;

// The draws of the `count` images of a dataset in `epoch` (1-based): the same (seed, epoch)
// always gives the same draws.
AugmentDraws draw_augmentation(int64_t count, uint64_t seed, int epoch, int64_t max_shift = kAugmentMaxShift);

// images [B, C, H, W] flipped and shifted by draws (of B images); pixels shifted in from outside
// are 0: out[y][x] = in[y - dy][x' - dx], x' mirrored when flip. |shift| must be <= max_shift.
torch::Tensor augment(const torch::Tensor& images, const AugmentDraws& draws,
                      int64_t max_shift = kAugmentMaxShift);

}  // namespace tpusim::qat
