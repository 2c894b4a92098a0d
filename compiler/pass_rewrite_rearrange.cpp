// Per-node rewrites of data movement on activations into Rearrange (rearrange.h), applied by
// fold_constants through rewrite_node after the channel-only forms (ChannelGather) declined:
//   Transpose(x, perm)                                    -> Rearrange (fuse_channel_shuffle may
//                                                            still make a ChannelGather of it)
//   Slice(x, constant starts/ends/axes, steps >= 1)       -> Rearrange
//   Split(x, axis != 1)                                   -> one Rearrange per output
//   Gather(x, constant scalar or evenly spaced increasing indices), where the channel form
//   (ChannelGather) declined                              -> Rearrange [+ Reshape dropping the
//                                                            axis of a scalar index: ViT's x[:, 0]]
//   Resize(x, mode nearest) whose source index along every axis is i / s (integer upsampling) or
//   a + s * i (subsampling)                               -> Rearrange
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "compiler/canonicalize.h"

namespace tpusim::compiler {

namespace {

using Kind = RearrangeAttrs::Kind;

int64_t norm_axis(Graph& g, const Node& n, int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) g.fail(n, fmt::format("axis {} is out of range for rank {}", axis, rank));
  return a;
}

// A whole-tensor Slice attrs (every axis taken whole).
RearrangeAttrs whole(const Shape& x) {
  RearrangeAttrs a;
  a.kind = Kind::Slice;
  a.starts.assign(x.size(), 0);
  a.steps.assign(x.size(), 1);
  a.sizes = x;
  return a;
}

Node rearrange(const Node& n, const std::string& out, RearrangeAttrs a, const char* tag) {
  return make_node(n, Op::Rearrange, {n.input(0)}, out, std::move(a), tag);
}

std::vector<Node> transpose(Graph& g, const Node& n) {
  const Shape& x = g.tensor(n.input(0)).shape;
  RearrangeAttrs a;
  a.kind = Kind::Transpose;
  for (size_t d = 0; d < x.size(); ++d) a.perm.push_back(static_cast<int64_t>(x.size() - 1 - d));
  if (const auto* p = n.attr<OnnxAttrs>().find_ints("perm")) a.perm = *p;
  return {rearrange(n, n.outputs[0], a, "")};
}

std::vector<Node> slice(Graph& g, const Node& n) {
  const Shape& x = g.tensor(n.input(0)).shape;
  const auto r = static_cast<int64_t>(x.size());
  const auto& oa = n.attr<OnnxAttrs>();
  auto ints = [&](const char* name, size_t i) -> std::optional<std::vector<int64_t>> {
    if (const auto* v = oa.find_ints(name)) return *v;
    if (i >= n.inputs.size() || n.input(i).empty()) return std::nullopt;
    const Tensor* t = g.constant(n.input(i));
    if (!t || is_float(t->type)) g.fail(n, fmt::format("{} '{}' must be a constant", name, n.input(i)));
    return t->ints;
  };
  const auto starts = ints("starts", 1), ends = ints("ends", 2);
  if (!starts || !ends || starts->size() != ends->size())
    g.fail(n, "needs constant starts and ends of the same length");
  std::vector<int64_t> axes(starts->size()), steps(starts->size(), 1);
  for (size_t k = 0; k < axes.size(); ++k) axes[k] = static_cast<int64_t>(k);
  if (auto v = ints("axes", 3)) axes = *v;
  if (auto v = ints("steps", 4)) steps = *v;
  if (axes.size() != starts->size() || steps.size() != starts->size())
    g.fail(n, "starts, ends, axes and steps must have the same length");
  RearrangeAttrs a = whole(x);
  for (size_t k = 0; k < axes.size(); ++k) {
    const auto ax = static_cast<size_t>(norm_axis(g, n, axes[k], r));
    const int64_t dim = x[ax], step = steps[k];
    if (step <= 0)
      g.fail(n, fmt::format("step {} along axis {}: only positive steps are supported (a DMA walks forward)",
                            step, ax));
    auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + dim : v, int64_t{0}, dim); };
    const int64_t s = clamp((*starts)[k]), e = clamp((*ends)[k]);
    a.starts[ax] = s;
    a.steps[ax] = step;
    a.sizes[ax] = e > s ? (e - s + step - 1) / step : 0;
    if (a.sizes[ax] == 0) g.fail(n, fmt::format("selects no element along axis {}", ax));
  }
  return {rearrange(n, n.outputs[0], a, "")};
}

std::vector<Node> gather(Graph& g, const Node& n) {
  const Shape& x = g.tensor(n.input(0)).shape;
  const Tensor* idx = g.constant(n.input(1));
  if (!idx || is_float(idx->type) || idx->shape.size() > 1 || idx->ints.empty())
    g.fail(n,
           "needs constant indices, a scalar or 1-D (a gather of an activation by computed indices is "
           "not supported)");
  const auto ax =
      static_cast<size_t>(norm_axis(g, n, n.attr<OnnxAttrs>().i("axis", 0), static_cast<int64_t>(x.size())));
  std::vector<int64_t> at;
  for (int64_t v : idx->ints) {
    const int64_t k = v < 0 ? v + x[ax] : v;
    if (k < 0 || k >= x[ax]) g.fail(n, fmt::format("index {} is out of range for dimension {}", v, x[ax]));
    at.push_back(k);
  }
  const int64_t step = at.size() > 1 ? at[1] - at[0] : 1;
  for (size_t i = 1; i < at.size(); ++i)
    if (step <= 0 || at[i] - at[i - 1] != step)
      g.fail(n, "only evenly spaced increasing indices are supported (one strided copy)");
  RearrangeAttrs a = whole(x);
  a.starts[ax] = at[0];
  a.steps[ax] = step;
  a.sizes[ax] = static_cast<int64_t>(at.size());
  if (!idx->shape.empty()) return {rearrange(n, n.outputs[0], a, "")};
  const std::string mid = n.outputs[0] + "_slice";  // a scalar index drops the axis
  g.tensors[mid].name = mid;
  ReshapeAttrs ra;
  ra.target = x;
  ra.target.erase(ra.target.begin() + static_cast<int64_t>(ax));
  return {rearrange(n, mid, a, "slice"), make_node(n, Op::Reshape, {mid}, n.outputs[0], ra, "")};
}

std::vector<Node> split(Graph& g, const Node& n) {
  const Shape& x = g.tensor(n.input(0)).shape;
  const auto ax =
      static_cast<size_t>(norm_axis(g, n, n.attr<OnnxAttrs>().i("axis", 0), static_cast<int64_t>(x.size())));
  const auto parts = split_sizes(g, n, ax);
  if (!parts) g.fail(n, fmt::format("split sizes '{}' must be a constant", n.input(1)));
  const std::vector<int64_t>& sizes = *parts;
  std::vector<Node> out;
  int64_t start = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    RearrangeAttrs a = whole(x);
    a.starts[ax] = start;
    a.sizes[ax] = sizes[i];
    start += sizes[i];
    const std::string tag = fmt::format("part{}", i);
    out.push_back(rearrange(n, n.outputs[i], a, tag.c_str()));
  }
  return out;
}

// ONNX Resize's source coordinate of output index i (mode nearest), rounded by nearest_mode.
int64_t nearest_source(const std::string& ctm, const std::string& nm, int64_t i, int64_t in, int64_t out,
                       double scale) {
  double xo = 0;
  if (ctm == "half_pixel")
    xo = (static_cast<double>(i) + 0.5) / scale - 0.5;
  else if (ctm == "pytorch_half_pixel")
    xo = out > 1 ? (static_cast<double>(i) + 0.5) / scale - 0.5 : 0.0;
  else if (ctm == "align_corners")
    xo = out > 1 ? static_cast<double>(i) * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  else if (ctm == "asymmetric")
    xo = static_cast<double>(i) / scale;
  else  // tf_half_pixel_for_nn (the caller accepts no other mode)
    xo = (static_cast<double>(i) + 0.5) / scale;
  double v = 0;
  if (nm == "floor")
    v = std::floor(xo);
  else if (nm == "ceil")
    v = std::ceil(xo);
  else if (nm == "round_prefer_ceil")
    v = std::floor(xo + 0.5);
  else  // round_prefer_floor
    v = std::ceil(xo - 0.5);
  return std::clamp(static_cast<int64_t>(v), int64_t{0}, in - 1);
}

std::vector<Node> resize(Graph& g, const Node& n) {
  const Shape& x = g.tensor(n.input(0)).shape;
  const auto r = x.size();
  const auto& oa = n.attr<OnnxAttrs>();
  const std::string mode = oa.s("mode", "nearest");
  const std::string ctm = oa.s("coordinate_transformation_mode", g.opset < 11 ? "asymmetric" : "half_pixel");
  const std::string nm = oa.s("nearest_mode", "round_prefer_floor");
  if (mode != "nearest") g.fail(n, fmt::format("mode '{}': only mode 'nearest' is supported", mode));
  static const std::vector<std::string> kCtm{"half_pixel", "pytorch_half_pixel", "align_corners",
                                             "asymmetric", "tf_half_pixel_for_nn"};
  if (std::find(kCtm.begin(), kCtm.end(), ctm) == kCtm.end())
    g.fail(n, fmt::format("coordinate_transformation_mode '{}' is not supported", ctm));
  if (oa.s("keep_aspect_ratio_policy", "stretch") != "stretch")
    g.fail(n, "keep_aspect_ratio_policy other than 'stretch' is not supported");
  std::vector<int64_t> axes(r);
  for (size_t k = 0; k < r; ++k) axes[k] = static_cast<int64_t>(k);
  if (const auto* v = oa.find_ints("axes")) axes = *v;
  // Opset 10: (X, scales); 11+: (X, roi, scales, sizes), one of scales and sizes given.
  const size_t scales_at = g.opset < 11 ? 1 : 2;
  auto input = [&](size_t i) -> const Tensor* {
    if (i >= n.inputs.size() || n.input(i).empty()) return nullptr;
    const Tensor* t = g.constant(n.input(i));
    if (!t) g.fail(n, fmt::format("input '{}' must be a constant", n.input(i)));
    return t->elements() == 0 ? nullptr : t;
  };
  const Tensor* scales = input(scales_at);
  const Tensor* sizes = g.opset < 11 ? nullptr : input(3);
  if (!scales == !sizes) g.fail(n, "needs exactly one of scales and sizes");
  const Tensor& given = scales ? *scales : *sizes;
  if (given.elements() != static_cast<int64_t>(axes.size()))
    g.fail(n, fmt::format("has {} scales/sizes for {} axes", given.elements(), axes.size()));
  RearrangeAttrs up;
  up.kind = Kind::Resize;
  up.scales.assign(r, 1);
  RearrangeAttrs sub = whole(x);
  bool any_up = false, any_sub = false;
  for (size_t k = 0; k < axes.size(); ++k) {
    const auto ax = static_cast<size_t>(norm_axis(g, n, axes[k], static_cast<int64_t>(r)));
    const int64_t in = x[ax];
    const double scale = scales ? static_cast<double>(given.at(static_cast<int64_t>(k)))
                                : static_cast<double>(given.ints[k]) / static_cast<double>(in);
    const int64_t out =
        scales ? static_cast<int64_t>(std::floor(static_cast<double>(in) * scale)) : given.ints[k];
    if (out <= 0 || in <= 0) g.fail(n, fmt::format("axis {}: {} -> {} elements", ax, in, out));
    std::vector<int64_t> src(static_cast<size_t>(out));
    for (int64_t i = 0; i < out; ++i)
      src[static_cast<size_t>(i)] = nearest_source(ctm, nm, i, in, out, scale);
    bool is_up = out % in == 0, is_sub = out == 1 || src[1] > src[0];
    const int64_t s_up = out / in, step = out == 1 ? 1 : src[1] - src[0];
    for (int64_t i = 0; i < out; ++i) {
      is_up = is_up && src[static_cast<size_t>(i)] == i / s_up;
      is_sub = is_sub && src[static_cast<size_t>(i)] == src[0] + i * step;
    }
    if (is_up) {
      up.scales[ax] = s_up;
      any_up = any_up || s_up > 1;
    } else if (is_sub) {
      sub.starts[ax] = src[0];
      sub.steps[ax] = step;
      sub.sizes[ax] = out;
      any_sub = true;
    } else {
      g.fail(n, fmt::format("axis {}: {} -> {} elements is neither an integer upsampling nor a subsampling "
                            "(only those are supported: a DMA copy)",
                            ax, in, out));
    }
  }
  if (any_up && any_sub) g.fail(n, "upsamples some axes and subsamples others: not supported");
  return {rearrange(n, n.outputs[0], any_sub ? sub : up, "")};
}

}  // namespace

std::vector<Node> rewrite_rearrange(Graph& g, const Node& n) {
  if (g.constant(n.input(0))) return {};  // shape computations: const_eval folds them
  switch (n.op) {
    case Op::Transpose: return transpose(g, n);
    case Op::Slice: return slice(g, n);
    case Op::Split: return split(g, n);
    case Op::Gather: return gather(g, n);
    case Op::Resize: return resize(g, n);
    default: return {};
  }
}

}  // namespace tpusim::compiler
