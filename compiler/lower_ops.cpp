// Quantized lowering, one float op each: Conv, Gemm, MatMul, pools, Add/Mul, bias Add, Concat.
// Each starts a Pending op (lower_internal.h) that the QuantizeLinear after it finalises.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "compiler/lower_internal.h"

namespace tpusim::compiler::lowering {

namespace {

// Scalar fields of the TIU instructions (isa/isa_table.h) that tiling cannot change.
void check_field(const Graph& g, const Node& n, const char* what, int64_t v, int bits) {
  if (v >= (int64_t{1} << bits))
    g.fail(n, fmt::format("{} {} does not fit the instruction's {}-bit field", what, v, bits));
}

std::vector<float> exact_scales(float s_in, const std::vector<float>& s_w) {
  std::vector<float> r;
  for (float s : s_w) r.push_back(s_in * s);  // the float product, as exporters form the bias scale
  return r;
}

std::vector<double> acc_scales(double s_in, const std::vector<float>& s_w, double alpha) {
  std::vector<double> r;
  for (float s : s_w) r.push_back(alpha * s_in * static_cast<double>(s));
  return r;
}

// [rows][cols] -> [cols][rows]
std::vector<int8_t> transpose(const std::vector<int8_t>& q, int64_t rows, int64_t cols) {
  std::vector<int8_t> t(q.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[static_cast<size_t>(c * rows + r)] = q[static_cast<size_t>(r * cols + c)];
  return t;
}

// Left shift of the TFLite-style Add: both inputs are rescaled to units of 2*max(s_a, s_b) / 2^20,
// so an 8-bit input (|q - zp| <= 255) becomes at most 255 * 2^19 < 2^28 and the sum stays far
// inside int32, while the rescale rounding costs at most 2^-20 of the larger input step.
constexpr int kAddLeftShift = 20;

}  // namespace

bool Lowerer::is_constant(const std::string& name) const {
  if (g.constant(name)) return true;
  const Node* p = g.producer(name);
  return p && p->op == Op::DequantizeLinear && g.constant(p->input(0));
}

void Lowerer::conv(const Node& n) {
  const ITensor& x = deq_input(n, 0);
  const auto& a = n.attr<ConvAttrs>();
  const int64_t oc = g.tensor(n.outputs[0]).shape[1];
  QuantWeight w = quantized_weight(g, n, n.input(1), 0, oc);
  for (int i = 0; i < 2; ++i) {
    check_field(g, n, "kernel", a.kernel[i], 8);
    check_field(g, n, "stride", a.strides[i], 8);
    check_field(g, n, "dilation", a.dilations[i], 8);
  }
  for (int64_t p : a.pads) check_field(g, n, "pad", p, 8);
  check_field(g, n, "group", a.group, 16);
  IConv c;
  c.weight = std::move(w.q);
  c.w_dtype = w.dtype;
  c.w_scale = w.scale;
  std::copy(a.kernel.begin(), a.kernel.end(), c.kernel);
  std::copy(a.strides.begin(), a.strides.end(), c.stride);
  std::copy(a.dilations.begin(), a.dilations.end(), c.dilation);
  std::copy(a.pads.begin(), a.pads.end(), c.pads);
  c.groups = a.group;
  c.in_zp = x.zero_point;
  Pending p = start(n, std::move(c), {x.name}, acc_scales(x.scale, w.scale, 1.0), 1);
  p.exact_bias_scale = exact_scales(x.scale, w.scale);
  if (!n.input(2).empty())
    p.bias = bias_units(constant_values(g, n, n.input(2)), p.acc_scale, p.exact_bias_scale, 1.0);
  values[n.outputs[0]] = std::move(p);
}

void Lowerer::gemm(const Node& n) {
  const auto& a = n.attr<GemmAttrs>();
  if (a.trans_a)
    g.fail(n, "transA=1 is not supported in a quantized graph (the activation would need a transpose)");
  if (!(a.alpha > 0.0f)) g.fail(n, fmt::format("alpha {} must be > 0 in a quantized graph", a.alpha));
  const ITensor& x = deq_input(n, 0);
  const Shape& ys = g.tensor(n.outputs[0]).shape;
  const int64_t k = x.shape[1], cols = ys[1];
  QuantWeight w = quantized_weight(g, n, n.input(1), a.trans_b ? 0 : 1, cols);
  IMatmul m;
  m.weight = a.trans_b ? std::move(w.q) : transpose(w.q, k, cols);
  m.w_dtype = w.dtype;
  m.w_scale = w.scale;
  m.in_zp = x.zero_point;
  Pending p = start(n, std::move(m), {x.name}, acc_scales(x.scale, w.scale, a.alpha), 1);
  if (a.alpha == 1.0f) p.exact_bias_scale = exact_scales(x.scale, w.scale);
  if (!n.input(2).empty()) {
    const ConstValues c = per_channel(g, n, constant_values(g, n, n.input(2)), ys, 1);
    p.bias = bias_units(c, p.acc_scale, p.exact_bias_scale, a.beta);
  }
  values[n.outputs[0]] = std::move(p);
}

void Lowerer::matmul(const Node& n) {
  if (!is_constant(n.input(1))) return act_matmul(n);
  const ITensor& x = deq_input(n, 0);
  const Shape& bs = g.tensor(n.input(1)).shape;
  if (bs.size() != 2) g.fail(n, fmt::format("weight '{}' must be 2-D, is {}", n.input(1), shape_str(bs)));
  QuantWeight w = quantized_weight(g, n, n.input(1), 1, bs[1]);
  IMatmul m;
  m.weight = transpose(w.q, bs[0], bs[1]);
  m.w_dtype = w.dtype;
  m.w_scale = w.scale;
  m.in_zp = x.zero_point;
  const auto axis = static_cast<int64_t>(g.tensor(n.outputs[0]).shape.size()) - 1;
  Pending p = start(n, std::move(m), {x.name}, acc_scales(x.scale, w.scale, 1.0), axis);
  p.exact_bias_scale = exact_scales(x.scale, w.scale);
  values[n.outputs[0]] = std::move(p);
}

void Lowerer::pool(const Node& n) {
  if (auto it = values.find(n.input(0));
      n.op == Op::MaxPool && it != values.end() && std::holds_alternative<Pending>(it->second)) {
    const Pending& in = std::get<Pending>(it->second);
    if (!in.inner && !in.op.as<IConcat>() && !exact_on_input_grid(in)) {
      const auto& a = n.attr<PoolAttrs>();
      IPool p;
      p.mode = PoolMode::Max;
      std::copy(a.kernel.begin(), a.kernel.end(), p.kernel);
      std::copy(a.strides.begin(), a.strides.end(), p.stride);
      std::copy(a.pads.begin(), a.pads.end(), p.pads);
      for (int i = 0; i < 4; ++i) check_field(g, n, "pad", p.pads[i], 8);
      for (int i = 0; i < 2; ++i)
        check_field(g, n, "stride", p.stride[i], 8), check_field(g, n, "kernel", p.kernel[i], 16);
      Pending outer = start(n, p, {n.input(0)}, {1.0}, 1);
      outer.inner = std::make_shared<Pending>(in);
      outer.inner_name = n.input(0);
      values[n.outputs[0]] = std::move(outer);
      return;
    }
  }
  const ITensor& x = deq_input(n, 0);
  IPool p;
  p.in_zp = x.zero_point;
  if (n.op == Op::GlobalAveragePool) {
    p.mode = PoolMode::Avg;
    p.kernel[0] = x.shape[2];
    p.kernel[1] = x.shape[3];
  } else {
    const auto& a = n.attr<PoolAttrs>();
    p.mode = n.op == Op::MaxPool ? PoolMode::Max : PoolMode::Avg;
    std::copy(a.kernel.begin(), a.kernel.end(), p.kernel);
    std::copy(a.strides.begin(), a.strides.end(), p.stride);
    std::copy(a.pads.begin(), a.pads.end(), p.pads);
    p.count_pad = a.count_include_pad;
    for (int i = 0; i < 4; ++i) {
      check_field(g, n, "pad", p.pads[i], 8);
      if (p.pads[i] >= p.kernel[i % 2])
        g.fail(n, fmt::format("pad {} >= kernel {}: a window would hold only padding", p.pads[i],
                              p.kernel[i % 2]));
    }
    for (int i = 0; i < 2; ++i) check_field(g, n, "stride", p.stride[i], 8);
  }
  for (int i = 0; i < 2; ++i) check_field(g, n, "kernel", p.kernel[i], 16);
  values[n.outputs[0]] = start(n, p, {x.name}, {x.scale}, 1);
}

void Lowerer::avg_pool_as_conv(Pending& p, const QParams& q) const {
  const IPool* pool = p.op.as<IPool>();
  const ITensor& x = out.tensor(p.op.inputs[0]);
  if (!pool || pool->mode != PoolMode::Avg || !(q.scale < x.scale)) return;
  // The pool divides at the input grid (rounding_div) before the requant scales up by
  // s_in / s_out > 1, which magnifies that rounding; a sum with one requant rounds once.
  const int64_t kh = pool->kernel[0], kw = pool->kernel[1], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const Shape& ys = g.tensor(p.anchor->outputs[0]).shape;
  const bool inside = pool->pads[0] == 0 && pool->pads[1] == 0 && (ys[2] - 1) * pool->stride[0] + kh <= H &&
                      (ys[3] - 1) * pool->stride[1] + kw <= W;
  if (!(pool->count_pad || inside) || kh > 255 || kw > 255) return;  // per-window counts: the pool unit
  IConv c;
  c.weight.assign(static_cast<size_t>(C * kh * kw), 1);
  c.w_scale.assign(static_cast<size_t>(C), 1.0f / static_cast<float>(kh * kw));
  c.kernel[0] = kh;
  c.kernel[1] = kw;
  std::copy(pool->stride, pool->stride + 2, c.stride);
  std::copy(pool->pads, pool->pads + 4, c.pads);  // zero-point padding adds 0 to the sum, as count_pad wants
  c.groups = C;
  c.in_zp = pool->in_zp;
  p.op.kind = std::move(c);
  p.acc_scale = {static_cast<double>(x.scale) / static_cast<double>(kh * kw)};
}

void Lowerer::eltwise(const Node& n) {
  const ITensor &a0 = deq_input(n, 0), &b0 = deq_input(n, 1);
  // A constant operand (ViT's position embedding, [1, L, D] against a batch) is broadcast here.
  const Shape& ys = g.tensor(n.outputs[0]).shape;
  const ITensor& a = a0.data.empty() || a0.shape == ys ? a0 : broadcast_constant(n, a0, ys);
  const ITensor& b = b0.data.empty() || b0.shape == ys ? b0 : broadcast_constant(n, b0, ys);
  // One operand may be [N, C, 1, 1] against [N, C, H, W] (squeeze-and-excite): the GDMA
  // replicates it (zero strides), the eltwise unit sees equal shapes.
  auto se = [](const Shape& big, const Shape& small) {
    return big.size() == 4 && small.size() == 4 && small[0] == big[0] && small[1] == big[1] &&
           small[2] == 1 && small[3] == 1;
  };
  if (a.shape != b.shape && !se(a.shape, b.shape) && !se(b.shape, a.shape))
    g.fail(n,
           fmt::format("inputs '{}' {} and '{}' {}: broadcasting between two quantized tensors is supported "
                       "only for [N, C, 1, 1] against [N, C, H, W]",
                       a.name, shape_str(a.shape), b.name, shape_str(b.shape)));
  IEltwise e;
  e.a_zp = a.zero_point;
  e.b_zp = b.zero_point;
  double acc_scale = static_cast<double>(a.scale) * b.scale;  // Mul: (a - zp_a)(b - zp_b), exact
  if (n.op == Op::Add) {
    e.op = EltOp::Add;
    acc_scale = 2.0 * std::max(a.scale, b.scale) / static_cast<double>(int64_t{1} << kAddLeftShift);
    try {
      e.a_rescale = make_multiplier(a.scale / acc_scale);
      e.b_rescale = make_multiplier(b.scale / acc_scale);
    } catch (const Error& err) {  // scales too far apart for a 31-bit M0
      g.fail(n, err.what());
    }
  } else {  // the identity, exactly: M0 = 2^30, shift 30
    e.op = EltOp::Mul;
    e.a_rescale = e.b_rescale = make_multiplier(1.0);
  }
  values[n.outputs[0]] = start(n, e, {a.name, b.name}, {acc_scale}, 1);
}

bool Lowerer::fold_bias_add(const Node& n) {
  for (size_t i = 0; i < 2; ++i) {
    auto it = values.find(n.input(i));
    const std::string& other = n.input(1 - i);
    if (it == values.end() || !std::holds_alternative<Pending>(it->second) || !is_constant(other)) continue;
    Pending p = std::get<Pending>(it->second);
    if (p.clamped || !(p.op.as<IConv>() || p.op.as<IMatmul>())) return false;
    const Shape& ys = g.tensor(n.outputs[0]).shape;
    if (ys != g.tensor(n.input(i)).shape)
      g.fail(n,
             fmt::format("constant '{}' broadcasts the output to {}: only a per-channel bias can be folded",
                         other, shape_str(ys)));
    const ConstValues c = per_channel(g, n, constant_values(g, n, other), ys, p.channel_axis);
    const std::vector<int64_t> add = bias_units(c, p.acc_scale, p.exact_bias_scale, 1.0);
    if (p.bias.empty()) p.bias.assign(add.size(), 0);
    for (size_t k = 0; k < add.size(); ++k) p.bias[k] += add[k];
    p.op.sources.push_back(n.name);
    values[n.outputs[0]] = std::move(p);
    return true;
  }
  return false;
}

void Lowerer::concat(const Node& n) {
  std::vector<std::string> ins;
  for (size_t i = 0; i < n.inputs.size(); ++i) ins.push_back(deq_input(n, i).name);
  const int64_t axis = n.attr<ConcatAttrs>().axis;
  values[n.outputs[0]] = start(n, IConcat{axis}, std::move(ins), {}, axis);
}

void Lowerer::finalise_concat(Pending p, const std::string& name, const QParams& q,
                              const std::string& float_name) {
  // Inputs on another grid are requantized first, into tensors of their own; the concat itself
  // only copies.
  for (size_t i = 0; i < p.op.inputs.size(); ++i) {
    const ITensor& t = out.tensor(p.op.inputs[i]);
    if (params(t) == q) continue;
    std::string rq_name = fmt::format("{}_requant{}", name, i);
    while (out.tensors.count(rq_name) || g.has(rq_name)) rq_name += "_";
    IOp r{rq_name, p.op.sources, {t.name}, rq_name, IRequant{t.zero_point}, {}};
    r.rq = requant_spec({t.scale}, q, -std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::infinity());
    add_tensor(rq_name, t.shape, q, t.float_name);
    add_op(std::move(r));
    p.op.inputs[i] = rq_name;
  }
  p.op.output = name;
  p.op.rq.out_zp = q.zero_point;
  add_tensor(name, g.tensor(float_name).shape, q, float_name);
  add_op(std::move(p.op));
}

}  // namespace tpusim::compiler::lowering
