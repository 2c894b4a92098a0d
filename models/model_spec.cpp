// The zoo's layer lists and the shape walk that validates them.
#include "models/model_spec.h"

#include <fmt/format.h>

#include "base/error.h"
#include "models/model_builder.h"

namespace tpusim::models {

const char* name(LayerKind k) {
  switch (k) {
    case LayerKind::Conv: return "Conv";
    case LayerKind::Linear: return "Linear";
    case LayerKind::MaxPool: return "MaxPool";
    case LayerKind::GlobalAvgPool: return "GlobalAvgPool";
    case LayerKind::Add: return "Add";
    case LayerKind::Flatten: return "Flatten";
    case LayerKind::Tokens: return "Tokens";
    case LayerKind::ClassToken: return "ClassToken";
    case LayerKind::PosEmbed: return "PosEmbed";
    case LayerKind::LayerNorm: return "LayerNorm";
    case LayerKind::Gelu: return "Gelu";
    case LayerKind::Attention: return "Attention";
    case LayerKind::ClassSelect: return "ClassSelect";
  }
  return "?";
}

namespace {

// LeNet-5's shape (two conv + pool stages, two FC layers) with BatchNorm and ReLU, widened to
// 32/64 channels of 3x3 (LeNet's 6/16 of 5x5 tops out near 91% on Fashion-MNIST; 16/32 of 5x5
// reached 92.5% in 15 epochs, 32/64 of 3x3 93.1% at about the same cost per image).
void lenet5(ModelSpec& m, Builder& b) {
  int x = b.conv("conv1", kImage, m.in_ch, 32, 3, 1, true);
  x = b.maxpool("pool1", x);
  x = b.conv("conv2", x, 32, 64, 3, 1, true);
  x = b.maxpool("pool2", x);
  x = b.flatten("flatten", x);
  x = b.linear("fc1", x, 64 * (m.height / 4) * (m.width / 4), 128, true);
  b.linear("fc2", x, 128, m.classes, false);
}

// ResNet-8 (He et al. 2016, CIFAR form): stem, three basic blocks of two 3x3 convs with identity
// or 1x1-projection shortcuts (stride 2 in blocks 2 and 3), global average pool, FC.
void resnet8(ModelSpec& m, Builder& b) {
  int x = b.conv("stem", kImage, m.in_ch, 16, 3, 1, true);
  int64_t ch = 16;
  for (int blk = 1; blk <= 3; ++blk) {
    const int64_t out = blk == 1 ? 16 : ch * 2, stride = blk == 1 ? 1 : 2;
    const std::string p = fmt::format("block{}_", blk);
    int y = b.conv(p + "conv1", x, ch, out, 3, stride, true);
    y = b.conv(p + "conv2", y, out, out, 3, 1, false);
    const int skip = blk == 1 ? x : b.conv(p + "proj", x, ch, out, 1, stride, false);
    x = b.add_relu(p + "add", y, skip);
    ch = out;
  }
  x = b.gap("gap", x);
  x = b.flatten("flatten", x);
  b.linear("fc", x, ch, m.classes, false);
}

// MobileNet-v1 style: a 3x3 stem, then depthwise 3x3 + pointwise 1x1 pairs (stride 2 in the
// depthwise conv of pairs 2 and 3), global average pool, FC.
void mobilenet(ModelSpec& m, Builder& b) {
  int x = b.conv("stem", kImage, m.in_ch, 16, 3, 1, true);
  int64_t ch = 16;
  for (int i = 1; i <= 3; ++i) {
    const int64_t stride = i == 1 ? 1 : 2;
    x = b.conv(fmt::format("dw{}", i), x, ch, ch, 3, stride, true, ch);
    x = b.conv(fmt::format("pw{}", i), x, ch, ch * 2, 1, 1, true);
    ch *= 2;
  }
  x = b.gap("gap", x);
  x = b.flatten("flatten", x);
  b.linear("fc", x, ch, m.classes, false);
}

void mlp(ModelSpec& m, Builder& b) {
  int x = b.flatten("flatten", kImage);
  x = b.linear("fc1", x, m.in_ch * m.height * m.width, 256, true);
  x = b.linear("fc2", x, 256, 128, true);
  b.linear("fc3", x, 128, m.classes, false);
}

struct ZooEntry {
  const char* name;
  void (*build)(ModelSpec&, Builder&);
  int64_t min_size;  // smallest H and W the layers accept
};
constexpr ZooEntry kZoo[] = {{"lenet5", lenet5, 4},
                             {"resnet8", resnet8, 4},
                             {"mobilenet", mobilenet, 4},
                             {"mlp", mlp, 1},
                             {"vit_tiny", vit_tiny, 4}};

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> v;
  for (const auto& z : kZoo) v.emplace_back(z.name);
  return v;
}

ModelSpec model_spec(std::string_view name, int64_t in_ch, int64_t height, int64_t width, int64_t classes) {
  for (const auto& z : kZoo) {
    if (name != z.name) continue;
    if (in_ch < 1 || height < z.min_size || width < z.min_size || classes < 2)
      throw Error(fmt::format(
          "model '{}': input {}x{}x{} with {} classes is too small (needs at least {}x{} and 2 classes)",
          name, in_ch, height, width, classes, z.min_size, z.min_size));
    ModelSpec m;
    m.name = z.name, m.in_ch = in_ch, m.height = height, m.width = width, m.classes = classes;
    Builder b(m);
    z.build(m, b);
    m.shapes();  // validates
    return m;
  }
  throw Error(fmt::format("unknown model '{}' (known: {})", name, fmt::join(model_names(), ", ")));
}

std::vector<ModelSpec::Shape> ModelSpec::shapes() const {
  std::vector<Shape> out;
  const Shape image{in_ch, height, width};
  auto fail = [&](const Layer& l, const std::string& msg) {
    throw Error(fmt::format("model '{}': layer '{}' ({}): {}", name, l.name, models::name(l.kind), msg));
  };
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const size_t want = l.kind == LayerKind::Add ? 2 : l.kind == LayerKind::Attention ? 3 : 1;
    if (l.inputs.size() != want) fail(l, fmt::format("has {} inputs, expected {}", l.inputs.size(), want));
    std::vector<Shape> in;
    for (int j : l.inputs) {
      if (j != kImage && (j < 0 || static_cast<size_t>(j) >= i))
        fail(l, fmt::format("input {} is not an earlier layer", j));
      in.push_back(j == kImage ? image : out[static_cast<size_t>(j)]);
    }
    const Shape& x = in[0];
    Shape y = x;
    switch (l.kind) {
      case LayerKind::Conv: {
        if (x.c != l.in_ch) fail(l, fmt::format("expects {} input channels, gets {}", l.in_ch, x.c));
        if (l.groups < 1 || l.in_ch % l.groups || l.out_ch % l.groups)
          fail(l, "groups must divide the channels");
        if (l.kernel < 1 || l.stride < 1 || l.pad < 0) fail(l, "bad kernel, stride or padding");
        y.c = l.out_ch;
        y.h = (x.h + 2 * l.pad - l.kernel) / l.stride + 1;
        y.w = (x.w + 2 * l.pad - l.kernel) / l.stride + 1;
        if (x.h + 2 * l.pad < l.kernel || x.w + 2 * l.pad < l.kernel)
          fail(l, "kernel larger than the padded input");
        break;
      }
      case LayerKind::Linear:  // on a flat input, or per token on a sequence
        if (!x.seq && (x.h != 1 || x.w != 1)) fail(l, "input is not flat (put a Flatten before it)");
        if (x.c != l.in_ch) fail(l, fmt::format("expects {} input features, gets {}", l.in_ch, x.c));
        y.c = l.out_ch;
        break;
      case LayerKind::MaxPool:
        if (l.pool < 1 || x.h < l.pool || x.w < l.pool) fail(l, "window larger than the input");
        y.h = x.h / l.pool, y.w = x.w / l.pool;
        break;
      case LayerKind::GlobalAvgPool: y.h = y.w = 1; break;
      case LayerKind::Add:
        if (in[1].c != x.c || in[1].h != x.h || in[1].w != x.w || in[1].seq != x.seq)
          fail(l, "inputs have different shapes");
        break;
      case LayerKind::Flatten:
        if (x.seq) fail(l, "input is a token sequence");
        y = {x.c * x.h * x.w, 1, 1};
        break;
      case LayerKind::Tokens:
        if (x.seq) fail(l, "input is already a token sequence");
        y = {x.c, x.h * x.w, 1, true};
        break;
      case LayerKind::ClassToken:
      case LayerKind::PosEmbed:
      case LayerKind::ClassSelect:
      case LayerKind::Attention:
        if (!x.seq) fail(l, "input is not a token sequence (put Tokens before it)");
        if (l.kind == LayerKind::ClassToken) y.h = x.h + 1;
        if (l.kind == LayerKind::ClassSelect) y = {x.c, 1, 1};
        if (l.kind == LayerKind::Attention) {
          for (const Shape& o : in)
            if (o.c != x.c || o.h != x.h || !o.seq) fail(l, "q, k and v have different shapes");
          if (l.heads < 1 || x.c % l.heads)
            fail(l, fmt::format("{} heads do not divide {} features", l.heads, x.c));
        }
        break;
      case LayerKind::LayerNorm:
      case LayerKind::Gelu: break;
    }
    out.push_back(y);
  }
  if (layers.empty()) throw Error(fmt::format("model '{}': no layers", name));
  const Shape& last = out.back();
  if (last.c != classes || last.h != 1 || last.w != 1)
    throw Error(fmt::format("model '{}': the last layer gives {}x{}x{}, expected {} class scores", name,
                            last.c, last.h, last.w, classes));
  return out;
}

std::vector<int> ModelSpec::weight_layers() const {
  std::vector<int> v;
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].kind == LayerKind::Conv || layers[i].kind == LayerKind::Linear)
      v.push_back(static_cast<int>(i));
  return v;
}

int64_t ModelSpec::macs() const {
  const std::vector<Shape> s = shapes();
  int64_t total = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    if (l.kind == LayerKind::Conv)
      total += s[i].c * s[i].h * s[i].w * (l.in_ch / l.groups) * l.kernel * l.kernel;
    if (l.kind == LayerKind::Linear) total += s[i].h * l.in_ch * l.out_ch;      // h tokens (1 if flat)
    if (l.kind == LayerKind::Attention) total += 2 * s[i].h * s[i].h * s[i].c;  // Q*K^T and P*V
  }
  return total;
}

bool ModelSpec::transformer() const {
  for (const Layer& l : layers)
    if (l.kind == LayerKind::LayerNorm || l.kind == LayerKind::Attention) return true;
  return false;
}

}  // namespace tpusim::models
