// BatchNormalization folding. A BatchNormalization whose input comes from a Conv or Gemm that
// feeds nothing else and has constant float weights is folded into that node:
//   s[c] = gamma[c] / sqrt(var[c] + eps),  t[c] = beta[c] - mean[c] * s[c]
//   Conv: W'[c,...] = W[c,...] * s[c],  b'[c] = b[c] * s[c] + t[c]
//   Gemm: B' scales output column c by s[c],  C'[..,c] = C[..,c] * s[c] + t[c] / beta
// Any other BatchNormalization with constant parameters becomes a ChannelAffine node
// (y = x * s[c] + t[c]). Folded weights get new tensor names ("<name>_bnfold"), so a weight
// shared with another node is never changed under it.
#pragma once
#include "compiler/graph.h"

namespace tpusim::compiler {

struct FoldStats {
  int folded = 0;     // merged into a Conv/Gemm
  int to_affine = 0;  // became ChannelAffine
  int kept = 0;       // left as BatchNormalization (non-constant parameters)
};

FoldStats fold_batchnorm(Graph& g);

// BatchNormalization's inference formula, used by the pass and the interpreter:
// s = gamma / sqrt(var + eps), t = beta - mean * s, y = x * s + t.
void batchnorm_coefficients(const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var,
                            float eps, std::vector<float>& s, std::vector<float>& t);

}  // namespace tpusim::compiler
