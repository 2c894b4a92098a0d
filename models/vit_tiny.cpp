// vit_tiny: a small vision transformer (Dosovitskiy et al. 2021) for 28x28 images: 4x4 patches
// (49 tokens and a class token), width 64, 4 heads, 4 pre-norm blocks with an MLP of 128, a final
// LayerNorm and a linear head on the class token.
#include <cmath>
#include <string>

#include "models/model_builder.h"

namespace tpusim::models {

void vit_tiny(ModelSpec& m, Builder& b) {
  constexpr int64_t kPatch = 4, kDim = 64, kHeads = 4, kMlp = 128, kBlocks = 4;
  // Q*K^T is scaled by 1/sqrt(head_dim) through the query projection's weights.
  const double q_scale = 1.0 / std::sqrt(static_cast<double>(kDim / kHeads));
  int x = b.patchify("patch", kImage, m.in_ch, kDim, kPatch);
  x = b.unary("tokens", LayerKind::Tokens, x);
  x = b.unary("cls", LayerKind::ClassToken, x);
  x = b.unary("pos", LayerKind::PosEmbed, x);
  for (int i = 1; i <= kBlocks; ++i) {
    const std::string p = "b" + std::to_string(i) + "_";
    const int n1 = b.unary(p + "ln1", LayerKind::LayerNorm, x);
    const int q = b.dense(p + "q", n1, kDim, kDim, q_scale);
    const int k = b.dense(p + "k", n1, kDim, kDim);
    const int v = b.dense(p + "v", n1, kDim, kDim);
    const int a = b.attention(p + "attn", q, k, v, kHeads);
    x = b.add(p + "add1", x, b.dense(p + "proj", a, kDim, kDim));
    const int n2 = b.unary(p + "ln2", LayerKind::LayerNorm, x);
    const int h = b.unary(p + "gelu", LayerKind::Gelu, b.dense(p + "fc1", n2, kDim, kMlp));
    x = b.add(p + "add2", x, b.dense(p + "fc2", h, kMlp, kDim));
  }
  x = b.unary("ln", LayerKind::LayerNorm, x);
  x = b.unary("cls_out", LayerKind::ClassSelect, x);
  b.dense("head", x, kDim, m.classes);
}

}  // namespace tpusim::models
