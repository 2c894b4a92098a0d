// The integers the compiler gives the `softmax` and `layernorm` instructions (isa/isa_table.h;
// derivations in docs/numerics.md, "Softmax and LayerNorm"), from the float model's parameters and
// the tensors' scales. Lowering (and QAT's fake-quant of the same arithmetic) build on these.
#pragma once
#include <cstdint>
#include <vector>

#include "isa/dtype.h"

namespace tpusim {

// Fraction bits of softmax's exp table and of its accumulator (the probability).
inline constexpr int kSoftmaxTableBits = 15;
inline constexpr int kSoftmaxProbBits = 16;

// Entry d (max - x = d, for every input code difference of type `in`) = round(2^15 * exp(-s_in * d)).
// Throws tpusim::Error for a scale that is not finite and positive.
std::vector<int32_t> softmax_exp_table(float s_in, DType in);
// The real value of one unit of softmax's accumulator (a probability in 16 fraction bits): 2^-16.
// The requant scale onto an output grid s_out is this / s_out.
double softmax_acc_unit();

// layernorm over D channels: per-channel (g, b), eps, and the real value of one accumulator unit
// (acc = round(d * g / sigma) + b), which the requant onto an output grid s_out divides by s_out.
// The unit is max|gamma| / 2^15, so the largest |g| is 2^15; g_c = round(gamma_c / unit),
// b_c = round(beta_c / unit) saturated to int32; eps = round(epsilon * D^2 / s_in^2) saturated to
// 2^32 - 1. None of it depends on the output grid.
struct LayerNormInts {
  std::vector<int32_t> g, b;
  uint32_t eps = 0;
  double unit = 1.0;
};
// gamma and beta have D entries (beta may be empty: zeros). Throws tpusim::Error for non-finite
// parameters or scales, or for gamma all zero (the output is then beta alone: not a layer norm).
LayerNormInts layernorm_ints(const std::vector<double>& gamma, const std::vector<double>& beta,
                             double epsilon, float s_in);

}  // namespace tpusim
