// Per-node rewrites into the ops the compiler lowers, applied by fold_constants before a node's
// shape is inferred:
//   Sub(x, c) -> Add(x, -c)      Div(x, c) -> Mul(x, 1/c)      (c constant float)
//   ReduceMean(x [N,C,H,W], axes {2,3}) -> GlobalAveragePool (+ Reshape to [N,C] if !keepdims)
//   Slice(x, constant bounds, axes {1}, step > 0), Gather(x, constant indices, axis 1) -> ChannelGather
//   Split(x, axis 1) -> one ChannelGather per output (contiguous channel ranges)
//   other Slice/Split, Transpose, Resize of activations -> Rearrange (pass_rewrite_rearrange.cpp)
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>

#include "compiler/canonicalize.h"

namespace tpusim::compiler {

Node make_node(const Node& from, Op op, std::vector<std::string> in, std::string out, Attrs a,
               const char* tag) {
  Node m;
  m.name = tag[0] ? fmt::format("{}/{}", from.name, tag) : from.name;
  m.op = op;
  m.inputs = std::move(in);
  m.outputs = {std::move(out)};
  m.attrs = std::move(a);
  return m;
}

namespace {

std::vector<Node> sub_div(Graph& g, const Node& n) {
  const Tensor* c = g.constant(n.input(1));
  if (!c || c->type != ElemType::F32 || g.constant(n.input(0))) return {};
  Tensor k = *c;
  k.name = fmt::format("{}_{}", c->name, n.op == Op::Sub ? "neg" : "recip");
  for (float& v : k.f32) {
    if (n.op == Op::Div && v == 0.0f)
      g.fail(n, fmt::format("divides by constant '{}', which holds 0", c->name));
    v = n.op == Op::Sub ? -v : 1.0f / v;
  }
  const std::string kn = k.name;
  g.tensors[kn] = std::move(k);
  return {make_node(n, n.op == Op::Sub ? Op::Add : Op::Mul, {n.input(0), kn}, n.outputs[0], std::monostate{},
                    "")};
}

std::vector<Node> reduce_mean(Graph& g, const Node& n) {
  const Tensor& x = g.tensor(n.input(0));
  const auto& a = n.attr<OnnxAttrs>();
  std::vector<int64_t> axes;
  if (const auto* v = a.find_ints("axes"))
    axes = *v;
  else if (n.inputs.size() > 1 && !n.input(1).empty() && g.constant(n.input(1)))
    axes = g.constant(n.input(1))->ints;
  const auto r = static_cast<int64_t>(x.shape.size());
  for (int64_t& ax : axes) ax = ax < 0 ? ax + r : ax;
  std::sort(axes.begin(), axes.end());
  if (r != 4 || axes != std::vector<int64_t>{2, 3} || x.type != ElemType::F32) return {};
  if (a.i("keepdims", 1) != 0)
    return {make_node(n, Op::GlobalAveragePool, {n.input(0)}, n.outputs[0], std::monostate{}, "")};
  const std::string mid = n.outputs[0] + "_gap";
  g.tensors[mid].name = mid;
  ReshapeAttrs ra;
  ra.target = {x.shape[0], x.shape[1]};
  return {make_node(n, Op::GlobalAveragePool, {n.input(0)}, mid, std::monostate{}, "gap"),
          make_node(n, Op::Reshape, {mid}, n.outputs[0], ra, "")};
}

// Slice of an activation along the channels only, with constant bounds -> ChannelGather.
std::vector<Node> slice_channels(Graph& g, const Node& n) {
  const Tensor& x = g.tensor(n.input(0));
  const auto& a = n.attr<OnnxAttrs>();
  auto ints = [&](const char* name, size_t i) -> std::optional<std::vector<int64_t>> {
    if (const auto* v = a.find_ints(name)) return *v;
    if (i >= n.inputs.size() || n.input(i).empty()) return std::nullopt;
    const Tensor* t = g.constant(n.input(i));
    if (!t || is_float(t->type)) return std::vector<int64_t>{};  // not constant: no rewrite
    return t->ints;
  };
  const auto starts = ints("starts", 1), ends = ints("ends", 2), axes = ints("axes", 3),
             steps = ints("steps", 4);
  if (!starts || !ends || starts->size() != 1 || ends->size() != 1 || x.shape.size() < 2) return {};
  const int64_t axis = axes ? (axes->size() == 1 ? (*axes)[0] : -100) : 0;
  const int64_t r = static_cast<int64_t>(x.shape.size());
  if ((axis < 0 ? axis + r : axis) != 1) return {};
  const int64_t step = steps ? (steps->size() == 1 ? (*steps)[0] : 0) : 1;
  if (step <= 0) return {};
  const int64_t C = x.shape[1];
  auto norm = [&](int64_t v) { return std::clamp(v < 0 ? v + C : v, int64_t{0}, C); };
  GatherAttrs ga;
  for (int64_t c = norm((*starts)[0]); c < norm((*ends)[0]); c += step) ga.channels.push_back(c);
  if (ga.channels.empty()) g.fail(n, "selects no channel");
  return {make_node(n, Op::ChannelGather, {n.input(0)}, n.outputs[0], ga, "")};
}

// Gather of an activation along the channels with constant 1-D indices -> ChannelGather (what
// tpusim's own ONNX export writes for an irregular channel selection).
std::vector<Node> gather_channels(Graph& g, const Node& n) {
  const Tensor& x = g.tensor(n.input(0));
  const Tensor* idx = g.constant(n.input(1));
  const int64_t r = static_cast<int64_t>(x.shape.size());
  int64_t axis = n.attr<OnnxAttrs>().i("axis", 0);
  axis = axis < 0 ? axis + r : axis;
  if (!idx || is_float(idx->type) || idx->shape.size() != 1 || r < 2 || axis != 1) return {};
  GatherAttrs ga;
  for (int64_t v : idx->ints) {
    const int64_t c = v < 0 ? v + x.shape[1] : v;
    if (c < 0 || c >= x.shape[1])
      g.fail(n, fmt::format("index {} is out of range for {} channels", v, x.shape[1]));
    ga.channels.push_back(c);
  }
  return {make_node(n, Op::ChannelGather, {n.input(0)}, n.outputs[0], ga, "")};
}

// Split of an activation along the channels.
std::vector<Node> split_channels(Graph& g, const Node& n) {
  const Tensor& x = g.tensor(n.input(0));
  const int64_t r = static_cast<int64_t>(x.shape.size());
  int64_t axis = n.attr<OnnxAttrs>().i("axis", 0);
  axis = axis < 0 ? axis + r : axis;
  if (r < 2 || axis != 1 || g.constant(n.input(0))) return {};
  const auto sizes = split_sizes(g, n, 1);
  if (!sizes) return {};
  const int64_t k = static_cast<int64_t>(n.outputs.size());
  std::vector<Node> out;
  int64_t start = 0;
  for (int64_t i = 0; i < k; ++i) {
    GatherAttrs ga;
    for (int64_t c = 0; c < (*sizes)[static_cast<size_t>(i)]; ++c) ga.channels.push_back(start + c);
    start += (*sizes)[static_cast<size_t>(i)];
    const std::string tag = fmt::format("part{}", i);
    out.push_back(
        make_node(n, Op::ChannelGather, {n.input(0)}, n.outputs[static_cast<size_t>(i)], ga, tag.c_str()));
  }
  return out;
}

}  // namespace

std::optional<std::vector<int64_t>> split_sizes(Graph& g, const Node& n, size_t axis) {
  const int64_t D = g.tensor(n.input(0)).shape[axis], k = static_cast<int64_t>(n.outputs.size());
  std::vector<int64_t> sizes;
  if (const auto* v = n.attr<OnnxAttrs>().find_ints("split")) {
    sizes = *v;
  } else if (n.inputs.size() > 1 && !n.input(1).empty()) {
    const Tensor* t = g.constant(n.input(1));
    if (!t || is_float(t->type)) return std::nullopt;
    sizes = t->ints;
  } else {
    const int64_t part = (D + k - 1) / k;
    for (int64_t i = 0; i < k; ++i) sizes.push_back(std::min(part, D - i * part));
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (static_cast<int64_t>(sizes.size()) != k || total != D)
    g.fail(n, fmt::format("split sizes [{}] do not divide axis {} ({} elements) into {} outputs",
                          fmt::join(sizes, ", "), axis, D, k));
  for (size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] <= 0) g.fail(n, fmt::format("output {} would have no element", i));
  return sizes;
}

std::vector<Node> rewrite_node(Graph& g, const Node& n) {
  switch (n.op) {
    case Op::Gather: {
      std::vector<Node> r = gather_channels(g, n);
      return r.empty() ? rewrite_rearrange(g, n) : r;
    }
    case Op::Slice: {
      std::vector<Node> r = slice_channels(g, n);
      return r.empty() ? rewrite_rearrange(g, n) : r;
    }
    case Op::Transpose:
    case Op::Resize: return rewrite_rearrange(g, n);
    case Op::Sub:
    case Op::Div: return sub_div(g, n);
    case Op::ReduceMean: return reduce_mean(g, n);
    case Op::Split: {
      std::vector<Node> r = split_channels(g, n);
      return r.empty() ? rewrite_rearrange(g, n) : r;
    }
    case Op::QLinearConv:
    case Op::QLinearMatMul: return expand_qlinear(g, n);
    case Op::ConvInteger:
    case Op::MatMulInteger: return expand_integer(g, n);
    default: return {};
  }
}

}  // namespace tpusim::compiler
