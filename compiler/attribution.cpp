// The switchable emulation of one integer op (attribution.h; the definitions: docs/compare.md,
// "Attribution").
#include "compiler/attribution.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "base/error.h"
#include "compiler/attribution_internal.h"
#include "compiler/fold_batchnorm.h"
#include "isa/numerics.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

namespace {

// A constant operand of the FP32 graph as float: an initializer, or DequantizeLinear of one.
std::vector<float> constant_floats(const Graph& f, const std::string& name) {
  if (const Tensor* t = f.constant(name); t && is_float(t->type)) return t->f32;
  const Node* dq = f.producer(name);
  const Tensor* q = dq && dq->op == Op::DequantizeLinear ? f.constant(dq->input(0)) : nullptr;
  if (!q) throw Error(fmt::format("FP32 operand '{}' is not a constant", name));
  const auto& a = dq->attr<QuantAttrs>();
  int64_t inner = 1;
  if (!a.per_tensor())
    for (size_t d = static_cast<size_t>(a.axis) + 1; d < q->shape.size(); ++d) inner *= q->shape[d];
  std::vector<float> r;
  for (int64_t i = 0; i < q->elements(); ++i) {
    const size_t c = a.per_tensor() ? 0 : static_cast<size_t>(i / inner) % a.scale.size();
    r.push_back(dequantize_linear(static_cast<int32_t>(q->ints[static_cast<size_t>(i)]), a.scale[c],
                                  static_cast<int32_t>(a.zero_point[c])));
  }
  return r;
}

bool is_constant(const Graph& f, const std::string& name) {
  const Node* p = f.producer(name);
  return f.constant(name) || (p && p->op == Op::DequantizeLinear && f.constant(p->input(0)));
}

}  // namespace

void LayerEmulation::Impl::collect(const Graph& f, const std::string& t, std::set<const Node*>& nodes) const {
  if (std::find(fin.begin(), fin.end(), t) != fin.end() || f.constant(t)) return;
  const Node* p = f.producer(t);
  if (!p) fail(fmt::format("FP32 tensor '{}' does not follow from the op's inputs", t));
  if (!nodes.insert(p).second) return;
  for (const std::string& i : p->inputs)
    if (!i.empty()) collect(f, i, nodes);
}

void LayerEmulation::Impl::build_segment(const Graph& f) {
  std::set<const Node*> nodes;
  collect(f, fout, nodes);
  seg.source = f.source, seg.opset = f.opset, seg.outputs = {fout};
  bool bn = false;
  for (const Node& n : f.nodes) {
    if (!nodes.count(&n)) continue;
    seg.nodes.push_back(n);
    bn = bn || n.op == Op::BatchNormalization;
    for (const auto* names : {&n.inputs, &n.outputs})
      for (const std::string& t : *names) {
        if (t.empty()) continue;
        seg.tensors[t] = f.tensor(t);
        if (std::find(fin.begin(), fin.end(), t) != fin.end() &&
            std::find(seg_inputs.begin(), seg_inputs.end(), t) == seg_inputs.end())
          seg_inputs.push_back(t);
      }
  }
  seg.inputs = seg_inputs;
  if (bn) fold_batchnorm(seg);  // the integer op's weights are the folded ones
  for (const Node* n = seg.producer(fout); n && (n->op == Op::Relu || n->op == Op::Clip);
       n = seg.producer(n->input(0))) {
    if (n->op == Op::Relu) act_lo = std::max(act_lo, 0.0f);
    if (n->op == Op::Clip)
      act_lo = std::max(act_lo, n->attr<ClipAttrs>().min),
      act_hi = std::min(act_hi, n->attr<ClipAttrs>().max);
  }
}

std::string LayerEmulation::Impl::own_constant(Node& n, size_t i, const char* tag) {
  const std::string name = fmt::format("{}__attribution_{}", n.input(i), tag);
  Tensor t = make_f32(name, seg.tensor(n.input(i)).shape, {});
  t.is_const = true;
  seg.tensors[name] = std::move(t);
  n.inputs[i] = name;
  return name;
}

void LayerEmulation::Impl::bind_weights(const std::vector<int8_t>& wq, DType wt, const std::vector<float>& ws,
                                        const std::vector<int32_t>& bias, double alpha, double beta) {
  auto anchor = std::find_if(seg.nodes.begin(), seg.nodes.end(), [](const Node& n) {
    return n.op == Op::Conv || n.op == Op::Gemm || n.op == Op::MatMul;
  });
  if (anchor == seg.nodes.end()) return;  // e.g. an average pool as a unit-weight conv: exact weights
  w_fp32 = constant_floats(seg, anchor->input(1));
  const auto C = static_cast<int64_t>(ws.size()), size = static_cast<int64_t>(w_fp32.size());
  if (size != static_cast<int64_t>(wq.size()) || C == 0 || size % C)
    fail(fmt::format("FP32 weight '{}' has {} elements, the integer op {}", anchor->input(1), size,
                     wq.size()));
  // FP32 element i -> (integer element, channel): [oc][...] for Conv and Gemm transB, else [k][n].
  const bool rows = anchor->op == Op::Conv || (anchor->op == Op::Gemm && anchor->attr<GemmAttrs>().trans_b);
  w_type = traits(wt);
  for (int64_t i = 0; i < size; ++i) {
    const int64_t c = rows ? i / (size / C) : i % C, k = rows ? i : c * (size / C) + i / C;
    const float s = ws[static_cast<size_t>(c)], w = w_fp32[static_cast<size_t>(i)];
    w_scale.push_back(s);
    w_hw.push_back(dequantize_linear(wq[static_cast<size_t>(k)], s, 0));
    w_delta.push_back(wq[static_cast<size_t>(k)] - quantize_linear(w, s, 0, wt));
    updated = updated || w_delta.back() != 0;
  }
  w_name = own_constant(*anchor, 1, "w");
  // The bias: the Conv/Gemm's third input, or a constant added to a MatMul's output.
  Node* bn = anchor->input(2).empty() ? nullptr : &*anchor;
  size_t bi = 2;
  for (Node& n : seg.nodes)
    for (size_t i = 0; !bn && n.op == Op::Add && i < 2; ++i)
      if (n.input(i) == anchor->outputs[0] && is_constant(seg, n.input(1 - i))) bn = &n, bi = 1 - i;
  const bool any_bias = std::any_of(bias.begin(), bias.end(), [](int32_t b) { return b != 0; });
  if (!bn) {
    if (any_bias) fail("the integer op has a bias the FP32 nodes do not");
    return;
  }
  b_fp32 = constant_floats(seg, bn->input(bi));
  if (static_cast<int64_t>(b_fp32.size()) != C)
    fail(fmt::format("FP32 bias '{}' has {} elements, not one per channel ({})", bn->input(bi), b_fp32.size(),
                     C));
  for (int64_t c = 0; c < C; ++c) {
    const double acc_scale = alpha * in[0].scale * static_cast<double>(ws[static_cast<size_t>(c)]);
    b_q.push_back(static_cast<float>((bias.empty() ? 0 : bias[static_cast<size_t>(c)]) * acc_scale / beta));
  }
  b_name = own_constant(*bn, bi, "b");
}

LayerEmulation::LayerEmulation(const IntGraph& g, const IOp& op, const Graph& fp32) : impl_(new Impl) {
  Impl& m = *impl_;
  m.op = op;
  m.where = fmt::format("{}: op '{}' ({})", g.source, op.output, kind_name(op));
  for (const std::string& name : op.inputs) {
    ITensor t = g.tensor(name);
    t.view_of.clear();
    std::string f = t.float_name;
    for (size_t i = 0; i < g.inputs.size(); ++i)
      if (g.inputs[i] == name && !fp32.has(f)) f = g.float_inputs[i];
    if (f.empty() || !fp32.has(f)) m.fail(fmt::format("input '{}' has no FP32 tensor", name));
    m.in.push_back(std::move(t));
    m.fin.push_back(f);
  }
  m.out = g.tensor(op.output);
  m.out.view_of.clear();
  m.fout = m.out.float_name;
  for (size_t i = 0; i < g.outputs.size(); ++i)
    if (g.outputs[i] == op.output && !fp32.has(m.fout)) m.fout = g.float_outputs[i];
  if (m.fout.empty() || !fp32.has(m.fout)) m.fail("the output has no FP32 tensor");
  if (fp32.tensor(m.fout).elements() != num_elements(m.out.shape))
    m.fail(fmt::format("FP32 tensor '{}' has another element count", m.fout));
  // A lut, layernorm or softmax maps its input codes to output codes with no accumulator the
  // sources could split: with the inputs and requant on it is the integer op itself, otherwise the
  // float op on the switched inputs with the output rounding and clipping switched. What the
  // integer algorithm adds beyond that (softmax's exp table and division, layernorm's integer
  // square root and (g, b), their requant multiplier) shows as interaction.
  m.lut = op.as<ILut>() || op.as<ILayerNorm>() || op.as<ISoftmax>();
  m.tail = !m.lut && !op.as<IConcat>() && !op.as<IGather>() && !op.as<IRearrange>();
  // A max pool (or requant) onto its input's own grid with multiplier exactly 1 and no clamp
  // inside the type: the integer result is already on the grid, its tail rounds and clips nothing.
  const IPool* pool = op.as<IPool>();
  if (m.tail && ((pool && pool->mode == PoolMode::Max) || op.as<IRequant>()) && m.in.size() == 1 &&
      m.in[0].scale == m.out.scale && m.in[0].zero_point == m.out.zero_point &&
      m.in[0].dtype == m.out.dtype && op.rq.clamp_lo == traits(m.out.dtype).qmin &&
      op.rq.clamp_hi == traits(m.out.dtype).qmax &&
      std::all_of(op.rq.mult.begin(), op.rq.mult.end(),
                  [](const Multiplier& k) { return std::ldexp(static_cast<double>(k.m0), -k.shift) == 1.0; }))
    m.tail = false;
  m.matmul = op.as<IMatmul>() != nullptr;
  if (std::find(m.fin.begin(), m.fin.end(), m.fout) == m.fin.end()) m.build_segment(fp32);
  if (const IConv* c = op.as<IConv>()) m.bind_weights(c->weight, c->w_dtype, c->w_scale, c->bias, 1.0, 1.0);
  if (const IMatmul* mm = op.as<IMatmul>()) {
    const Node* gemm = nullptr;
    for (const Node& n : m.seg.nodes)
      if (n.op == Op::Gemm) gemm = &n;
    const GemmAttrs a = gemm ? gemm->attr<GemmAttrs>() : GemmAttrs{};
    m.bind_weights(mm->weight, mm->w_dtype, mm->w_scale, mm->bias, a.alpha, a.beta);
  }
}

LayerEmulation::~LayerEmulation() = default;
const std::vector<std::string>& LayerEmulation::float_inputs() const { return impl_->fin; }
const std::string& LayerEmulation::float_output() const { return impl_->fout; }

}  // namespace tpusim::compiler
