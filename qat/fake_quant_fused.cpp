#include "qat/fake_quant_fused.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

namespace tpusim::qat {

namespace {

std::atomic<FakeQuantKernels> g_kernels{FakeQuantKernels::Fused};

constexpr int64_t kChunk = 1 << 15;  // elements per task; also the unit of the ordered sum

// Runs body(begin, end, chunk index) over [0, n) in kChunk pieces on libtorch's thread pool.
template <class Body>
void for_chunks(int64_t n, const Body& body) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) body(c * kChunk, std::min(n, (c + 1) * kChunk), c);
  });
}

}  // namespace

void set_fake_quant_kernels(FakeQuantKernels k) { g_kernels = k; }
FakeQuantKernels fake_quant_kernels() { return g_kernels; }

namespace fused {

bool applies(const torch::Tensor& x) {
  return g_kernels == FakeQuantKernels::Fused && x.scalar_type() == torch::kFloat32 && x.device().is_cpu() &&
         x.is_contiguous();
}

// The float operations below are the reference's, in its order (x / s, round half to even, + zp,
// clamp, - zp, * s), so every value is bit-identical to the tensor formulation.
torch::Tensor ste_forward(const torch::Tensor& x, float s, float zp, int64_t qmin, int64_t qmax,
                          torch::Tensor& mask) {
  torch::Tensor y = torch::empty_like(x);
  mask = torch::empty(x.sizes(), x.options().dtype(torch::kBool));
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  bool* mp = mask.data_ptr<bool>();
  const auto lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  for_chunks(x.numel(), [&](int64_t b, int64_t e, int64_t) {
    for (int64_t i = b; i < e; ++i) {
      const float r = std::nearbyint(xp[i] / s) + zp;
      mp[i] = r >= lo && r <= hi;
      yp[i] = (std::clamp(r, lo, hi) - zp) * s;
    }
  });
  return y;
}

torch::Tensor masked(const torch::Tensor& grad, const torch::Tensor& mask) {
  const torch::Tensor g = grad.contiguous();
  torch::Tensor dx = torch::empty_like(g);
  const float* gp = g.data_ptr<float>();
  const bool* mp = mask.data_ptr<bool>();
  float* dp = dx.data_ptr<float>();
  for_chunks(g.numel(), [&](int64_t b, int64_t e, int64_t) {
    for (int64_t i = b; i < e; ++i) dp[i] = mp[i] ? gp[i] : 0.0f;
  });
  return dx;
}

torch::Tensor lsq_forward(const torch::Tensor& x, float s, int64_t qmin, int64_t qmax) {
  torch::Tensor y = torch::empty_like(x);
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const auto lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  for_chunks(x.numel(), [&](int64_t b, int64_t e, int64_t) {
    for (int64_t i = b; i < e; ++i) yp[i] = std::clamp(std::nearbyint(xp[i] / s), lo, hi) * s;
  });
  return y;
}

double lsq_backward(const torch::Tensor& x, const torch::Tensor& grad, float s, int64_t qmin, int64_t qmax,
                    torch::Tensor& dx) {
  const torch::Tensor g = grad.contiguous();
  dx = torch::empty_like(g);
  const float* xp = x.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* dp = dx.data_ptr<float>();
  const auto lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  std::vector<double> partial(static_cast<size_t>((x.numel() + kChunk - 1) / kChunk), 0.0);
  for_chunks(x.numel(), [&](int64_t b, int64_t e, int64_t c) {
    double sum = 0;
    for (int64_t i = b; i < e; ++i) {
      const float v = xp[i] / s;
      const bool below = v <= lo, above = v >= hi;
      const float dv = below ? lo : above ? hi : std::nearbyint(v) - v;
      sum += static_cast<double>(gp[i]) * dv;
      dp[i] = below || above ? 0.0f : gp[i];
    }
    partial[static_cast<size_t>(c)] = sum;
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace fused
}  // namespace tpusim::qat
