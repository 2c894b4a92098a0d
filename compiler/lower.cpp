// Quantized lowering, the walk: graph inputs, QuantizeLinear/DequantizeLinear, Relu/Clip, views,
// graph outputs. The float ops themselves are in lower_ops.cpp.
#include "compiler/lower.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "compiler/lower_internal.h"
#include "compiler/pointwise.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

IntGraph lower_qdq(const Graph& g) { return lowering::Lowerer(g).run(); }

namespace lowering {

QParams act_params(const Graph& g, const Node& n) {
  const auto& a = n.attr<QuantAttrs>();
  if (!a.per_tensor())
    g.fail(n,
           "per-axis quantization of an activation is not supported (activations are quantized per tensor)");
  const auto dt = to_dtype(a.qtype);  // int32: an accumulator (ConvInteger/MatMulInteger output)
  if (!dt)
    g.fail(n, fmt::format("activation type {} is not supported (int8, uint8, int4, uint4 or int32)",
                          elem_type_name(a.qtype)));
  return {*dt, a.scale[0], static_cast<int32_t>(a.zero_point[0])};
}

namespace {

// Whether clamping the dequantized values of grid q at v is the same as clamping their integers
// at Q(v): v is a grid value, or outside the grid's range.
bool clamp_is_exact(float v, const QParams& q) {
  if (std::isinf(v)) return true;
  const DTypeTraits& t = traits(q.dtype);
  const auto qmin = static_cast<int32_t>(t.qmin), qmax = static_cast<int32_t>(t.qmax);
  if (v <= dequantize_linear(qmin, q.scale, q.zero_point) ||
      v >= dequantize_linear(qmax, q.scale, q.zero_point))
    return true;
  return dequantize_linear(quantize_linear(v, q.scale, q.zero_point, q.dtype), q.scale, q.zero_point) == v;
}

}  // namespace

IntGraph Lowerer::run() {
  bind_inputs();
  for (const Node& n : g.nodes) {
    switch (n.op) {
      case Op::QuantizeLinear: quantize(n); break;
      case Op::DequantizeLinear: dequantize(n); break;
      case Op::Conv: conv(n); break;
      case Op::Gemm: gemm(n); break;
      case Op::MatMul: matmul(n); break;
      case Op::MaxPool:
      case Op::AveragePool:
      case Op::GlobalAveragePool: pool(n); break;
      case Op::Add:
        if (!fold_bias_add(n) && !constant_affine(n)) eltwise(n);
        break;
      case Op::Mul:
        if (!fold_scale(n) && !constant_affine(n)) eltwise(n);
        break;
      case Op::Relu:
      case Op::Clip: clamp(n); break;
      case Op::Flatten:
      case Op::Reshape: view(n); break;
      case Op::Concat: concat(n); break;
      case Op::BatchNormalization:
        if (!fold_scale(n)) channel_affine(n);
        break;
      case Op::ChannelAffine: channel_affine(n); break;
      case Op::LayerNormalization: layer_norm(n); break;
      case Op::Softmax: softmax(n); break;
      case Op::ChannelGather:
      case Op::Rearrange: gather(n); break;
      default:
        if (!is_pointwise(n.op)) g.fail(n, "has no integer lowering");
        lut(n);
    }
  }
  bind_outputs();
  check_int32_readers();
  return std::move(out);
}

// An int32 activation is an accumulator: the MAC array, the pool unit and the look-up table take
// 8- and 4-bit inputs only, so it may be requantized (a QuantizeLinear) or be a graph output.
void Lowerer::check_int32_readers() const {
  for (const IOp& op : out.ops)
    for (const std::string& i : op.inputs)
      if (out.tensor(i).dtype == DType::Int32 && !op.as<IRequant>())
        g.fail(
            fmt::format("node '{}': input '{}' is int32 (an accumulator); only a QuantizeLinear to 8 or "
                        "4 bits, or a graph output, may read an int32 tensor",
                        op.name, i));
}

ITensor& Lowerer::add_tensor(const std::string& name, const Shape& shape, const QParams& p,
                             const std::string& float_name) {
  ITensor& t = out.tensors[name];
  t = ITensor{name, shape, p.dtype, p.scale, p.zero_point, "", float_name, {}};
  return t;
}

Pending Lowerer::start(const Node& anchor, IOpKind kind, std::vector<std::string> inputs,
                       std::vector<double> acc_scale, int64_t channel_axis) const {
  Pending p;
  p.anchor = &anchor;
  p.op.name = anchor.name;
  p.op.sources = {anchor.name};
  p.op.inputs = std::move(inputs);
  p.op.kind = std::move(kind);
  p.acc_scale = std::move(acc_scale);
  p.channel_axis = channel_axis;
  return p;
}

const ITensor& Lowerer::deq_input(const Node& n, size_t i) {
  // A pending op whose result is exact on its input's grid (a max pool, ...) is materialised.
  return out.tensor(need_deq(n.input(i), &n).itensor);
}

void Lowerer::not_quantized(const Node& n, const std::string& name) const {
  if (g.constant(name))
    g.fail(n, fmt::format(
                  "input '{}' is a float constant, expected a quantized activation (DequantizeLinear of a "
                  "QuantizeLinear output)",
                  name));
  g.fail(n,
         fmt::format("input '{}' is not a quantized activation (is a QuantizeLinear -> DequantizeLinear pair "
                     "missing before it?)",
                     name));
}

void Lowerer::float_reaches(const Pending& p, const std::string& name, const Node* user) const {
  const std::string to =
      user ? fmt::format("node '{}' ({})", user->name, op_name(user->op)) : "the graph output";
  g.fail(*p.anchor, fmt::format("output '{}' is float and reaches {} without a QuantizeLinear: float tensors "
                                "between quantized ops are not supported",
                                name, to));
}

const Deq& Lowerer::need_deq(const std::string& name, const Node* user) {
  auto it = values.find(name);
  if (it == values.end() && user && constant_activation(*user, name)) it = values.find(name);
  if (it == values.end()) {
    if (user) not_quantized(*user, name);
    g.fail(fmt::format(
        "graph output '{}' is not computed from quantized tensors (lowering needs a QDQ model)", name));
  }
  if (std::holds_alternative<Deq>(it->second)) return std::get<Deq>(it->second);
  // A float result with no QuantizeLinear after it is lowered only when its integers on the
  // input grid are exact: a max pool, a concat of equal grids, or a clamp at grid values.
  Pending p = std::get<Pending>(it->second);
  if (p.inner || !exact_on_input_grid(p)) float_reaches(p, name, user);
  const QParams in = params(out.tensor(p.op.inputs[0]));
  finalise(std::move(p), name, in, name, nullptr);
  return std::get<Deq>(values[name] = Deq{name});
}

bool Lowerer::exact_on_input_grid(const Pending& p) const {
  const QParams in = params(out.tensor(p.op.inputs[0]));
  bool exact = clamp_is_exact(p.lo, in) && clamp_is_exact(p.hi, in);
  if (const IPool* pool = p.op.as<IPool>())
    exact = exact && pool->mode == PoolMode::Max;
  else if (p.op.as<IConcat>())
    exact = exact && std::all_of(p.op.inputs.begin(), p.op.inputs.end(),
                                 [&](const std::string& i) { return params(out.tensor(i)) == in; });
  else
    exact = exact && p.op.as<IRequant>() != nullptr;
  return exact;
}

void Lowerer::finalise(Pending p, const std::string& name, const QParams& q, const std::string& float_name,
                       const Node* by) {
  if (p.inner) {  // the op under a max pool, onto the pool's output grid
    finalise(*p.inner, p.inner_name, q, p.inner_name, nullptr);
    values[p.inner_name] = Deq{p.inner_name};
    std::get<IPool>(p.op.kind).in_zp = q.zero_point;
    p.op.inputs = {p.inner_name};
    p.acc_scale = {q.scale};
    p.inner.reset();
  }
  if (by && by->name != p.op.sources.back()) p.op.sources.push_back(by->name);
  if (p.op.as<IConcat>()) return finalise_concat(std::move(p), name, q, float_name);
  if (p.op.as<ILut>()) return finalise_lut(std::move(p), name, q, float_name);
  avg_pool_as_conv(p, q);
  try {
    p.op.rq = requant_spec(p.acc_scale, q, p.lo, p.hi);
  } catch (const Error& e) {
    g.fail(*p.anchor, e.what());
  }
  if (auto* c = std::get_if<IConv>(&p.op.kind)) c->bias = saturate_bias(p.bias, c->bias_saturated);
  if (auto* m = std::get_if<IMatmul>(&p.op.kind)) m->bias = saturate_bias(p.bias, m->bias_saturated);
  p.op.output = name;
  add_tensor(name, g.tensor(float_name).shape, q, float_name);
  add_op(std::move(p.op));
}

void Lowerer::bind_inputs() {
  for (const std::string& name : g.inputs) {
    const Tensor& t = g.tensor(name);
    const std::vector<const Node*> users = g.consumers(name);
    if (!is_float(t.type)) {  // already integer: its parameters come from the DequantizeLinear reading it
      auto dq = std::find_if(users.begin(), users.end(),
                             [](const Node* u) { return u->op == Op::DequantizeLinear; });
      if (dq == users.end()) g.fail(fmt::format("integer input '{}' must feed a DequantizeLinear", name));
      add_tensor(name, t.shape, act_params(g, **dq), "");
    } else {
      for (const Node* u : users)
        if (u->op != Op::QuantizeLinear)
          g.fail(*u,
                 fmt::format("reads the float model input '{}': in a quantized graph the input must feed "
                             "QuantizeLinear, which the host applies (FP32 models need calibration first)",
                             name));
      if (users.empty()) g.fail(fmt::format("input '{}' is not used", name));
      add_tensor(users[0]->outputs[0], t.shape, act_params(g, *users[0]), name);
    }
    out.inputs.push_back(is_float(t.type) ? users[0]->outputs[0] : name);
    out.float_inputs.push_back(name);
  }
}

void Lowerer::quantize(const Node& n) {
  const std::string &x = n.input(0), &y = n.outputs[0];
  const QParams q = act_params(g, n);
  if (std::find(g.inputs.begin(), g.inputs.end(), x) != g.inputs.end()) {
    const auto k = static_cast<size_t>(std::find(out.float_inputs.begin(), out.float_inputs.end(), x) -
                                       out.float_inputs.begin());
    if (out.inputs[k] == y) return;  // the integer input itself
    if (params(out.tensor(out.inputs[k])) != q)
      g.fail(n, fmt::format("quantizes input '{}' with other parameters than '{}' does (one set per input)",
                            x, out.inputs[k]));
    add_tensor(y, g.tensor(y).shape, q, x).view_of = out.inputs[k];
    return;
  }
  auto it = values.find(x);
  if (it == values.end()) not_quantized(n, x);
  if (const Deq* d = std::get_if<Deq>(&it->second)) {
    const ITensor& src = out.tensor(d->itensor);
    if (params(src) == q) {  // Q(DQ(q)) = q on the same grid: no op
      const std::string storage = out.storage(src.name);
      add_tensor(y, g.tensor(y).shape, q, x).view_of = storage;
      return;
    }
    return finalise(start(n, IRequant{src.zero_point}, {src.name}, {src.scale}, 1), y, q, x, &n);
  }
  finalise(std::get<Pending>(it->second), y, q, x, &n);
}

void Lowerer::dequantize(const Node& n) {
  const std::string &x = n.input(0), &y = n.outputs[0];
  if (g.constant(x)) return;  // a weight or bias: read where it is used
  auto it = out.tensors.find(x);
  if (it == out.tensors.end())
    g.fail(n, fmt::format("input '{}' is not a constant nor a lowered QuantizeLinear output", x));
  const QParams q = act_params(g, n);
  if (q == params(it->second)) {
    values[y] = Deq{x};
    return;
  }
  // Another scale/zero point on the same integers: a view that reinterprets them.
  const std::string storage = out.storage(x);
  add_tensor(y, it->second.shape, q, y).view_of = storage;
  values[y] = Deq{y};
}

void Lowerer::clamp(const Node& n) {
  float lo = 0.0f, hi = std::numeric_limits<float>::infinity();
  if (n.op == Op::Clip) {
    lo = n.attr<ClipAttrs>().min;
    hi = n.attr<ClipAttrs>().max;
  }
  auto it = values.find(n.input(0));
  Pending p;
  if (it != values.end() && std::holds_alternative<Pending>(it->second)) {
    p = std::get<Pending>(it->second);
    if (p.op.as<IConcat>()) g.fail(n, "cannot follow a Concat directly: put a QuantizeLinear between them");
    p.op.sources.push_back(n.name);
  } else {
    const ITensor& t = deq_input(n, 0);
    p = start(n, IRequant{t.zero_point}, {t.name}, {t.scale}, 1);
  }
  p.lo = std::max(p.lo, lo);
  p.hi = std::min(p.hi, hi);
  if (p.lo > p.hi) g.fail(n, fmt::format("clamp range [{}, {}] is empty after folding", p.lo, p.hi));
  p.clamped = true;
  values[n.outputs[0]] = std::move(p);
}

void Lowerer::view(const Node& n) {
  const std::string& y = n.outputs[0];
  const ITensor& src = out.tensor(need_deq(n.input(0), &n).itensor);
  const QParams q = params(src);
  const std::string storage = out.storage(src.name);
  add_tensor(y, g.tensor(y).shape, q, y).view_of = storage;
  values[y] = Deq{y};
}

void Lowerer::bind_outputs() {
  for (const std::string& y : g.outputs) {
    std::string itensor = y;
    if (is_float(g.tensor(y).type))
      itensor = need_deq(y, nullptr).itensor;
    else if (!out.tensors.count(y))
      g.fail(fmt::format("graph output '{}' is not a lowered quantized tensor", y));
    out.outputs.push_back(itensor);
    out.float_outputs.push_back(y);
  }
}

}  // namespace lowering
}  // namespace tpusim::compiler
