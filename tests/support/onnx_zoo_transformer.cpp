// The zoo's transformer (onnx_zoo.h, transformer_forms): a one-block ViT written the way torch.onnx
// writes torchvision's vit_b_16, so canonicalization meets the same forms.
#include <cmath>

#include "tests/support/onnx_zoo.h"

namespace tpusim::testing {

namespace {

constexpr int64_t kDim = 16, kHeads = 2, kHeadDim = 8, kTokens = 5, kHidden = 32;

struct Block {
  ModelBuilder& b;
  std::mt19937& rng;
  int64_t opset;
  int64_t batch;

  std::string ints(const std::string& name, const std::vector<int64_t>& v) {
    return b.ints(name, {static_cast<int64_t>(v.size())}, kInt64, v);
  }
  std::string weight(const std::string& name, int64_t k, int64_t n) {
    const float a = std::sqrt(3.0f / static_cast<float>(k));
    return b.f32(name, {k, n}, uniform(rng, static_cast<size_t>(k * n), -a, a));
  }
  // x @ W + b, as torch.onnx writes a Linear on a 3-D input (the bias first in the Add).
  std::string linear(const std::string& x, const std::string& out, int64_t k, int64_t n) {
    b.node("MatMul", {x, weight(out + "_w", k, n)}, out + "_mm");
    b.node("Add", {b.f32(out + "_b", {n}, uniform(rng, static_cast<size_t>(n), -0.1f, 0.1f)), out + "_mm"},
           out);
    return out;
  }
  std::string layer_norm(const std::string& x, const std::string& out) {
    const std::string g = b.f32(out + "_g", {kDim}, uniform(rng, kDim, 0.5f, 1.5f));
    const std::string beta = b.f32(out + "_beta", {kDim}, uniform(rng, kDim, -0.2f, 0.2f));
    if (opset >= 17) {
      auto& n = b.node("LayerNormalization", {x, g, beta}, out);
      attr(n, "axis", int64_t{-1});
      attr(n, "epsilon", 1e-6f);
      return out;
    }
    attr(b.node("ReduceMean", {x}, out + "_mean"), "axes", std::vector<int64_t>{-1});
    b.node("Sub", {x, out + "_mean"}, out + "_d");
    b.node("Pow", {out + "_d", b.scalar(out + "_two", 2.0f)}, out + "_sq");
    attr(b.node("ReduceMean", {out + "_sq"}, out + "_var"), "axes", std::vector<int64_t>{-1});
    b.node("Add", {out + "_var", b.scalar(out + "_eps", 1e-6f)}, out + "_ve");
    b.node("Sqrt", {out + "_ve"}, out + "_std");
    b.node("Div", {out + "_d", out + "_std"}, out + "_n");
    b.node("Mul", {out + "_n", g}, out + "_ng");
    b.node("Add", {out + "_ng", beta}, out);
    return out;
  }
  std::string gelu(const std::string& x, const std::string& out) {
    b.node("Div", {x, b.scalar(out + "_sqrt2", std::sqrt(2.0f))}, out + "_s");
    b.node("Erf", {out + "_s"}, out + "_erf");
    b.node("Add", {out + "_erf", b.scalar(out + "_one", 1.0f)}, out + "_1p");
    b.node("Mul", {x, out + "_1p"}, out + "_x1p");
    b.node("Mul", {out + "_x1p", b.scalar(out + "_half", 0.5f)}, out);
    return out;
  }
  // [N, T, D] -> [N, heads, T, head_dim] (perm 0,2,1,3) or its key form [N, heads, head_dim, T].
  std::string heads(const std::string& x, const std::string& out, bool key) {
    b.node("Reshape", {x, ints(out + "_shape", {batch, kTokens, kHeads, kHeadDim})}, out + "_4d");
    attr(b.node("Transpose", {out + "_4d"}, out), "perm",
         key ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3});
    return out;
  }
  std::string attention(const std::string& x) {
    linear(x, "qkv", kDim, 3 * kDim);
    const char* names[3] = {"q", "k", "v"};
    for (int64_t i = 0; i < 3; ++i)
      b.node("Slice",
             {"qkv", ints(std::string(names[i]) + "_start", {i * kDim}),
              ints(std::string(names[i]) + "_end", {(i + 1) * kDim}),
              ints(std::string(names[i]) + "_axes", {-1})},
             names[i]);
    heads("q", "qh", false);
    heads("k", "kh", true);
    heads("v", "vh", false);
    b.node("Div", {"qh", b.scalar("scale", std::sqrt(static_cast<float>(kHeadDim)))}, "qs");
    b.node("MatMul", {"qs", "kh"}, "scores");
    attr(b.node("Softmax", {"scores"}, "probs"), "axis", int64_t{-1});
    b.node("MatMul", {"probs", "vh"}, "ctx");
    attr(b.node("Transpose", {"ctx"}, "ctx_t"), "perm", std::vector<int64_t>{0, 2, 1, 3});
    b.node("Reshape", {"ctx_t", ints("ctx_shape", {batch, kTokens, kDim})}, "ctx_3d");
    return linear("ctx_3d", "proj", kDim, kDim);
  }
};

}  // namespace

TestModel transformer_forms(int64_t batch, int64_t opset) {
  std::mt19937 rng(static_cast<uint32_t>(23 + opset));
  ModelBuilder b(opset);
  b.input("x", {batch, 3, 8, 8}).output("y");
  Block k{b, rng, opset, batch};
  // Patch embedding: a 4x4 stride-4 Conv, flattened to tokens [N, 4, D].
  auto& patch = b.node("Conv",
                       {"x", b.f32("patch_w", {kDim, 3, 4, 4}, uniform(rng, kDim * 48, -0.25f, 0.25f)),
                        b.f32("patch_b", {kDim}, uniform(rng, kDim, -0.1f, 0.1f))},
                       "patches");
  attr(patch, "strides", std::vector<int64_t>{4, 4});
  b.node("Reshape", {"patches", k.ints("flat_shape", {batch, kDim, -1})}, "patches_3d");
  attr(b.node("Transpose", {"patches_3d"}, "tokens"), "perm", std::vector<int64_t>{0, 2, 1});
  // The class token, expanded to the batch as torch.onnx writes class_token.expand(n, -1, -1):
  // Where(Equal(shape, -1), 1, shape) replaces the -1s before the Expand.
  b.node("ConstantOfShape", {k.ints("three", {3})}, "ones");
  auto& ones = *b.proto().mutable_graph()->mutable_node(b.proto().graph().node_size() - 1);
  auto* v = ones.add_attribute();
  v->set_name("value");
  v->set_type(onnx::AttributeProto::TENSOR);
  v->mutable_t()->set_data_type(kInt64);
  v->mutable_t()->add_dims(1);
  v->mutable_t()->add_int64_data(1);
  b.node("Mul", {"ones", b.ints("minus_one", {}, kInt64, {-1})}, "minus_ones");
  b.node("Equal", {k.ints("cls_shape", {batch, -1, -1}), "minus_ones"}, "is_minus");
  b.node("Where", {"is_minus", "ones", "cls_shape"}, "expand_shape");
  b.node("Expand", {b.f32("cls", {1, 1, kDim}, uniform(rng, kDim, -0.5f, 0.5f)), "expand_shape"}, "cls_n");
  attr(b.node("Concat", {"cls_n", "tokens"}, "seq"), "axis", int64_t{1});
  b.node("Add", {"seq", b.f32("pos", {1, kTokens, kDim}, uniform(rng, kTokens * kDim, -0.2f, 0.2f))}, "h0");
  // Pre-norm block: attention and MLP, each with its residual Add.
  b.node("Add", {"h0", k.attention(k.layer_norm("h0", "ln1"))}, "h1");
  k.linear(k.layer_norm("h1", "ln2"), "fc1", kDim, kHidden);
  k.linear(k.gelu("fc1", "act"), "fc2", kHidden, kDim);
  b.node("Add", {"h1", "fc2"}, "h2");
  // The class token's output (x[:, 0]: a Gather by a scalar index), a final norm and the head.
  b.node("Gather", {k.layer_norm("h2", "ln3"), b.ints("first", {}, kInt64, {0})}, "cls_out");
  attr(*b.proto().mutable_graph()->mutable_node(b.proto().graph().node_size() - 1), "axis", int64_t{1});
  b.node("Gemm",
         {"cls_out", b.f32("head_w", {4, kDim}, uniform(rng, 4 * kDim, -0.4f, 0.4f)),
          b.f32("head_b", {4}, uniform(rng, 4, -0.1f, 0.1f))},
         "y");
  attr(*b.proto().mutable_graph()->mutable_node(b.proto().graph().node_size() - 1), "transB", int64_t{1});
  return {"transformer_forms_opset" + std::to_string(opset), b.bytes(), {batch, 3, 8, 8}, false, 0.0f};
}

}  // namespace tpusim::testing
