#include "qat/image_tensors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include "base/error.h"

namespace tpusim::qat {

ImageTensors ImageTensors::select(const torch::Tensor& index) const {
  return {images.index_select(0, index), labels.index_select(0, index)};
}

ImageTensors to_tensors(const models::ImageSet& set) {
  if (set.count < 0 || set.channels <= 0 || set.height <= 0 || set.width <= 0 ||
      static_cast<int64_t>(set.pixels.size()) != set.count * set.image_size() ||
      static_cast<int64_t>(set.labels.size()) != set.count)
    throw Error(fmt::format("{}: {} images of {}x{}x{} need {} pixels and {} labels, the set has {} and {}",
                            set.source.empty() ? "dataset" : set.source, set.count, set.channels, set.height,
                            set.width, set.count * set.image_size(), set.count, set.pixels.size(),
                            set.labels.size()));
  // from_blob does not copy; the conversions below do, so the set may go away afterwards.
  auto* pixels = const_cast<uint8_t*>(set.pixels.data());
  auto* labels = const_cast<uint8_t*>(set.labels.data());
  ImageTensors t;
  t.images = torch::from_blob(pixels, {set.count, set.channels, set.height, set.width}, torch::kUInt8)
                 .to(torch::kFloat32)
                 .div_(255.0f);
  t.labels = torch::from_blob(labels, {set.count}, torch::kUInt8).to(torch::kInt64);
  return t;
}

uint64_t epoch_seed(uint64_t seed, int epoch, uint64_t stream) {
  uint64_t z =
      seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(epoch) * 2 + 1) + 0xD1B54A32D192ED03ull * stream;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

AugmentDraws AugmentDraws::select(const torch::Tensor& index) const {
  return {shift_y.index_select(0, index), shift_x.index_select(0, index), flip.index_select(0, index)};
}

AugmentDraws draw_augmentation(int64_t count, uint64_t seed, int epoch, int64_t max_shift) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(epoch_seed(seed, epoch, 1));
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  AugmentDraws d;
  d.shift_y = torch::randint(-max_shift, max_shift + 1, {count}, gen, i64);
  d.shift_x = torch::randint(-max_shift, max_shift + 1, {count}, gen, i64);
  d.flip = torch::randint(0, 2, {count}, gen, i64).to(torch::kBool);
  return d;
}

torch::Tensor augment(const torch::Tensor& images, const AugmentDraws& draws, int64_t max_shift) {
  const int64_t b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t m = max_shift, pw = w + 2 * m;
  // One gather from the zero-padded images: every output pixel reads its source pixel, which
  // lands in the padding (0) when it comes from outside the image.
  const torch::Tensor padded = torch::constant_pad_nd(images, {m, m, m, m}, 0).reshape({b, c, -1});
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  const torch::Tensor y = torch::arange(h, i64).view({1, h, 1});
  const torch::Tensor x = torch::arange(w, i64).view({1, 1, w});
  const torch::Tensor dy = draws.shift_y.view({b, 1, 1}), dx = draws.shift_x.view({b, 1, 1});
  const torch::Tensor from_x = x - dx;  // in the flipped image
  const torch::Tensor col = torch::where(draws.flip.view({b, 1, 1}), (w - 1) - from_x, from_x) + m;
  const torch::Tensor index = ((y - dy + m) * pw + col).reshape({b, 1, h * w}).expand({b, c, h * w});
  return padded.gather(2, index).view({b, c, h, w});
}

}  // namespace tpusim::qat
