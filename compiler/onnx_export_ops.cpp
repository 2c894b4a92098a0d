// ONNX export of the IR-only and fused ops (onnx_export_internal.h): each written back as the
// standard ops it stands for, so the file reads in any ONNX tool and imports to the same graph.
#include <fmt/format.h>

#include <cmath>

#include "base/error.h"
#include "compiler/onnx_export_internal.h"

namespace tpusim::compiler::export_detail {

// LayerNormalization exists from opset 17 (export_onnx picks 17 when the graph has one). A fused
// decomposed form may lack the scale: ones. The Mean/InvStdDev outputs are not written.
void Exporter::layer_norm(const Node& n) {
  if (opset_ < 17) g_.fail(n, fmt::format("LayerNormalization needs opset 17 (asked for {})", opset_));
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (!n.outputs[i].empty()) g_.fail(n, "the Mean and InvStdDev outputs are not exported");
  const auto& a = n.attr<LayerNormAttrs>();
  std::vector<std::string> in = n.inputs;
  in.resize(3);
  if (in[1].empty()) {
    const Shape& x = g_.tensor(in[0]).shape;
    const Shape inner(x.begin() + a.axis, x.end());
    in[1] = f32(n.outputs[0] + "_scale", inner,
                std::vector<float>(static_cast<size_t>(num_elements(inner)), 1.0f));
  }
  if (in[2].empty()) in.pop_back();
  auto& p = node("LayerNormalization", n.name, in, n.outputs[0]);
  attr(p, "axis", a.axis);
  attr(p, "epsilon", a.epsilon);
}

// y = x * s[c] + t[c]: Mul and Add by [C, 1, ...] constants (broadcast along the channel axis).
void Exporter::channel_affine(const Node& n) {
  const Shape& xs = g_.tensor(n.input(0)).shape;
  if (xs.size() < 2) g_.fail(n, fmt::format("input {} has no channel axis", shape_str(xs)));
  Shape cs(xs.size() - 1, 1);
  cs[0] = xs[1];
  std::string k[2];
  for (size_t i = 0; i < 2; ++i) {
    const Tensor* t = g_.constant(n.input(i + 1));
    if (!t || t->type != ElemType::F32 || t->elements() != xs[1])
      g_.fail(n, fmt::format("parameter '{}' must be a float constant of {} values", n.input(i + 1), xs[1]));
    k[i] = f32(n.input(i + 1) + (cs.size() > 1 ? "_c11" : "_c"), cs, t->f32);
  }
  const std::string scaled = binary("Mul", n, "scale", n.input(0), k[0]);
  node("Add", n.name, {scaled, k[1]}, n.outputs[0]);
}

// A Slice when the channels are in steps, the channel shuffle canonicalization fuses, or a Gather.
void Exporter::channel_gather(const Node& n) {
  const auto& ch = n.attr<GatherAttrs>().channels;
  const Shape& xs = g_.tensor(n.input(0)).shape;
  if (ch.empty() || xs.size() < 2) g_.fail(n, "selects no channel or has no channel axis");
  const int64_t C = xs[1], co = static_cast<int64_t>(ch.size());
  const int64_t step = co > 1 ? ch[1] - ch[0] : 1;
  bool steps = step > 0;
  for (int64_t c = 1; c < co && steps; ++c)
    steps = ch[static_cast<size_t>(c)] - ch[static_cast<size_t>(c - 1)] == step;
  if (steps) {
    const std::string pre = n.outputs[0];
    node("Slice", n.name,
         {n.input(0), i64(pre + "_starts", {1}, {ch[0]}), i64(pre + "_ends", {1}, {ch.back() + 1}),
          i64(pre + "_axes", {1}, {1}), i64(pre + "_steps", {1}, {step})},
         n.outputs[0]);
    return;
  }
  int64_t groups = 0;
  if (xs.size() == 4 && co == C)
    for (int64_t gr = 2; gr < C && groups == 0; ++gr) {
      if (C % gr != 0) continue;
      bool ok = true;
      for (int64_t c = 0; c < C && ok; ++c) ok = ch[static_cast<size_t>(c)] == (c % gr) * (C / gr) + c / gr;
      if (ok) groups = gr;
    }
  if (groups > 0) {  // Reshape [N, g, C/g, H, W] -> Transpose {0, 2, 1, 3, 4} -> Reshape [N, C, H, W]
    const std::string pre = n.outputs[0];
    const std::string s5 = i64(pre + "_shape5", {5}, {xs[0], groups, C / groups, xs[2], xs[3]});
    const std::string r1 = binary("Reshape", n, "split", n.input(0), s5);
    const std::string tr = fresh(pre + "_transposed");
    attr_ints(node("Transpose", n.name + "/transpose", {r1}, tr), "perm",
              std::vector<int64_t>{0, 2, 1, 3, 4});
    node("Reshape", n.name, {tr, i64(pre + "_shape4", {4}, xs)}, n.outputs[0]);
    return;
  }
  attr(node("Gather", n.name, {n.input(0), i64(n.outputs[0] + "_indices", {co}, ch)}, n.outputs[0]), "axis",
       int64_t{1});
}

// Rearrange -> the op it came from: Transpose; Slice over every axis; Resize (nearest, asymmetric
// coordinates, floor: source index i / scale, what import maps back to the same Rearrange).
void Exporter::rearrange(const Node& n) {
  const auto& a = n.attr<RearrangeAttrs>();
  const std::string pre = n.outputs[0];
  using K = RearrangeAttrs::Kind;
  if (a.kind == K::Transpose) {
    attr_ints(node("Transpose", n.name, {n.input(0)}, n.outputs[0]), "perm", a.perm);
  } else if (a.kind == K::Slice) {
    std::vector<int64_t> ends, axes;
    for (size_t k = 0; k < a.starts.size(); ++k) {
      ends.push_back(a.starts[k] + (a.sizes[k] - 1) * a.steps[k] + 1);
      axes.push_back(static_cast<int64_t>(k));
    }
    const auto r = static_cast<int64_t>(axes.size());
    node("Slice", n.name,
         {n.input(0), i64(pre + "_starts", {r}, a.starts), i64(pre + "_ends", {r}, ends),
          i64(pre + "_axes", {r}, axes), i64(pre + "_steps", {r}, a.steps)},
         n.outputs[0]);
  } else {
    const std::vector<float> scales(a.scales.begin(), a.scales.end());
    auto& p = node("Resize", n.name,
                   {n.input(0), "", f32(pre + "_scales", {static_cast<int64_t>(scales.size())}, scales)},
                   n.outputs[0]);
    attr(p, "mode", std::string("nearest"));
    attr(p, "coordinate_transformation_mode", std::string("asymmetric"));
    attr(p, "nearest_mode", std::string("floor"));
  }
}

// Gelu from opset 20; below, its formula: 0.5 * x * (1 + erf(x / sqrt(2))), or with the tanh
// approximation 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
void Exporter::gelu(const Node& n) {
  const auto& a = n.attr<PointwiseAttrs>();
  const std::string& x = n.input(0);
  if (opset_ >= 20) {
    auto& p = same(n);
    if (a.tanh_approx) attr(p, "approximate", std::string("tanh"));
    return;
  }
  const std::string pre = n.outputs[0];
  std::string inner;
  if (!a.tanh_approx) {
    const std::string d =
        binary("Div", n, "div", x, f32(pre + "_sqrt2", {}, {static_cast<float>(std::sqrt(2.0))}));
    inner = unary("Erf", n, "erf", d);
  } else {
    const std::string x2 = binary("Mul", n, "sq", x, x);
    const std::string x3 = binary("Mul", n, "cube", x2, x);
    const std::string c3 = binary("Mul", n, "c3", x3, f32(pre + "_c", {}, {0.044715f}));
    const std::string sum = binary("Add", n, "sum", x, c3);
    const std::string arg =
        binary("Mul", n, "arg", sum, f32(pre + "_k", {}, {static_cast<float>(std::sqrt(2.0 / M_PI))}));
    inner = unary("Tanh", n, "tanh", arg);
  }
  const std::string one = binary("Add", n, "one", inner, f32(pre + "_one", {}, {1.0f}));
  const std::string xs = binary("Mul", n, "x", x, one);
  binary("Mul", n, "half", xs, f32(pre + "_half", {}, {0.5f}), n.outputs[0]);
}

}  // namespace tpusim::compiler::export_detail
