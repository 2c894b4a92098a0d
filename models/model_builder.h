// Internal to models/: the helper the zoo's layer lists are written with.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "models/model_spec.h"

namespace tpusim::models {

// Builds a layer list; each helper returns the new layer's index.
class Builder {
 public:
  explicit Builder(ModelSpec& m) : m_(m) {}
  int conv(const std::string& name, int in, int64_t in_ch, int64_t out_ch, int64_t k, int64_t stride,
           bool relu, int64_t groups = 1) {
    Layer l = base(name, LayerKind::Conv, {in});
    l.in_ch = in_ch, l.out_ch = out_ch, l.kernel = k, l.stride = stride, l.pad = k / 2, l.groups = groups;
    l.batchnorm = true;
    l.act = relu ? Activation::Relu : Activation::None;
    return push(l);
  }
  int linear(const std::string& name, int in, int64_t in_f, int64_t out_f, bool bn_relu) {
    Layer l = base(name, LayerKind::Linear, {in});
    l.in_ch = in_f, l.out_ch = out_f, l.batchnorm = bn_relu;
    l.act = bn_relu ? Activation::Relu : Activation::None;
    return push(l);
  }
  int maxpool(const std::string& name, int in) { return push(base(name, LayerKind::MaxPool, {in})); }
  int gap(const std::string& name, int in) { return push(base(name, LayerKind::GlobalAvgPool, {in})); }
  int flatten(const std::string& name, int in) { return push(base(name, LayerKind::Flatten, {in})); }
  int add_relu(const std::string& name, int a, int b) {
    Layer l = base(name, LayerKind::Add, {a, b});
    l.act = Activation::Relu;
    return push(l);
  }
  // A conv with a bias and no BN or activation (a patch embedding: kernel = stride, no padding).
  int patchify(const std::string& name, int in, int64_t in_ch, int64_t out_ch, int64_t patch) {
    Layer l = base(name, LayerKind::Conv, {in});
    l.in_ch = in_ch, l.out_ch = out_ch, l.kernel = patch, l.stride = patch;
    return push(l);
  }
  // A Linear with bias, no BN or activation (applied per token on a sequence).
  int dense(const std::string& name, int in, int64_t in_f, int64_t out_f, double out_scale = 1.0) {
    Layer l = base(name, LayerKind::Linear, {in});
    l.in_ch = in_f, l.out_ch = out_f, l.out_scale = out_scale;
    return push(l);
  }
  int unary(const std::string& name, LayerKind k, int in) { return push(base(name, k, {in})); }
  int add(const std::string& name, int a, int b) { return push(base(name, LayerKind::Add, {a, b})); }
  int attention(const std::string& name, int q, int k, int v, int64_t heads) {
    Layer l = base(name, LayerKind::Attention, {q, k, v});
    l.heads = heads;
    return push(l);
  }

 private:
  static Layer base(const std::string& name, LayerKind k, std::vector<int> in) {
    Layer l;
    l.name = name, l.kind = k, l.inputs = std::move(in);
    return l;
  }
  int push(Layer l) {
    m_.layers.push_back(std::move(l));
    return static_cast<int>(m_.layers.size()) - 1;
  }
  ModelSpec& m_;
};

void vit_tiny(ModelSpec& m, Builder& b);

}  // namespace tpusim::models
