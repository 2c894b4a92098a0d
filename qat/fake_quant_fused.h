// Fused CPU kernels for per-tensor fake quantization of float32 activations, the QAT hot path:
// one pass forward (value and, for the STE, the in-range mask) and one pass backward, instead of
// the dozen tensor-wide passes the plain libtorch formulation in fake_quant.cpp makes. The plain
// formulation is their reference twin (tests/qat/fake_quant_fused_test.cpp compares them): forward
// values and input gradients are bit-identical, the step gradient (a sum) equal to rounding.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace tpusim::qat {

enum class FakeQuantKernels { Fused, Reference };
// Which kernels fake_quant_ste / lsq_quant / pact_quant use for per-tensor float32 CPU inputs
// (others always take the reference path). Process-wide; for tests and benchmarks.
void set_fake_quant_kernels(FakeQuantKernels k);
FakeQuantKernels fake_quant_kernels();

namespace fused {

// True when x can take the fused path (float32, CPU, contiguous) and fused kernels are selected.
bool applies(const torch::Tensor& x);

// y = (clamp(round(x / s) + zp, qmin, qmax) - zp) * s; mask = round(x / s) + zp in [qmin, qmax].
torch::Tensor ste_forward(const torch::Tensor& x, float s, float zp, int64_t qmin, int64_t qmax,
                          torch::Tensor& mask);
torch::Tensor masked(const torch::Tensor& grad, const torch::Tensor& mask);  // grad * mask

// LSQ with zero point 0: y = clamp(round(x / s), qmin, qmax) * s.
torch::Tensor lsq_forward(const torch::Tensor& x, float s, int64_t qmin, int64_t qmax);
// dx = grad where qmin < x/s < qmax, else 0; returns sum(grad * dv) (Esser et al. eq. 3, before
// the gradient scale), summed in double chunk by chunk in a fixed order (deterministic).
double lsq_backward(const torch::Tensor& x, const torch::Tensor& grad, float s, int64_t qmin, int64_t qmax,
                    torch::Tensor& dx);

}  // namespace fused
}  // namespace tpusim::qat
