// Shared by the QAT quantizer tests: one libtorch thread (determinism on shared cores) and a
// tensor's elements as floats.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace tpusim::testing {

inline const bool kQatSingleThread = (torch::set_num_threads(1), true);

inline std::vector<float> values(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

}  // namespace tpusim::testing
