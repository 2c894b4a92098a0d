// Fixtures of the training-loop tests (trainer_test.cpp, trainer_data_test.cpp): a synthetic
// 4-class image problem, a tiny conv net and quick options, one libtorch thread for determinism.
// libtorch first: its glog defines a CHECK macro that Catch's must replace.
#pragma once
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "qat/trainer.h"

namespace trainer_test {

using tpusim::qat::ImageTensors;
using tpusim::qat::TrainHooks;
using tpusim::qat::TrainOptions;
namespace fs = std::filesystem;

inline const bool kSingleThread = [] {
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
inline ImageTensors synthetic(int64_t per_class, uint64_t seed) {
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

inline TrainHooks hooks_for(TinyNet& net) {
  TrainHooks h;
  h.forward = [net](const torch::Tensor& x) mutable { return net->forward(x); };
  return h;
}

inline TrainOptions quick_options() {
  TrainOptions o;
  o.epochs = 3;
  o.batch_size = 32;
  o.lr = 0.05;
  o.progress = false;
  return o;
}

inline std::vector<torch::Tensor> parameters_of(const TinyNet& net) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net->parameters()) out.push_back(p.detach().clone());
  return out;
}

inline bool same_tensors(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

inline TinyNet fresh_net(uint64_t init_seed, int64_t channels = 4) {
  torch::manual_seed(init_seed);
  return TinyNet(channels);
}

}  // namespace trainer_test
