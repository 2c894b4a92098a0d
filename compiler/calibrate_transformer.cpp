// Calibration for transformers (docs/compiler.md, "Calibration", step 6): the second operand of a
// MatMul of two activations is quantized symmetric, and constants read as activations become
// DequantizeLinear of integer constants.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/calibrate_internal.h"
#include "compiler/shape_infer.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

namespace {

// The activation a view or copy (Reshape, Flatten, Rearrange, ChannelGather) reads, followed up
// to the tensor that holds the integers.
std::string through_moves(const Graph& g, std::string t) {
  for (const Node* p = g.producer(t); p && (p->op == Op::Reshape || p->op == Op::Flatten ||
                                            p->op == Op::Rearrange || p->op == Op::ChannelGather);
       p = g.producer(t))
    t = p->input(0);
  return t;
}

// Whether constant input i of `n` is read as an activation: any constant of a Concat, and an
// Add/Mul constant that is neither a matmul's bias nor a per-channel (or scalar) operand of a 4-D
// activation (lowering folds those).
bool constant_activation(const Graph& g, const Node& n, size_t i) {
  const Tensor* c = g.constant(n.input(i));
  if (!c || c->type != ElemType::F32) return false;
  if (n.op == Op::Concat) return true;
  if ((n.op != Op::Add && n.op != Op::Mul) || n.inputs.size() != 2 || g.constant(n.input(1 - i)))
    return false;
  const Node* p = g.producer(n.input(1 - i));
  if (n.op == Op::Add && p && is_matmul_like(p->op) && g.constant(p->input(1)) &&
      g.consumers(p->outputs[0]).size() == 1)
    return false;  // a bias, folded into the accumulator
  return !channel_operand(c->shape, g.tensor(n.outputs[0]).shape);
}

}  // namespace

std::set<std::string> symmetric_points(const Graph& g) {
  std::set<std::string> r;
  for (const Node& n : g.nodes)
    if (n.op == Op::MatMul && !g.constant(n.input(1))) r.insert(through_moves(g, n.input(1)));
  return r;
}

void quantize_constant_activations(Graph& g, int bits, CalibResult& r) {
  const size_t nodes = g.nodes.size();
  for (size_t k = 0; k < nodes; ++k)
    for (size_t i = 0; i < g.nodes[k].inputs.size(); ++i) {
      if (!constant_activation(g, g.nodes[k], i)) continue;
      const Tensor c = *g.constant(g.nodes[k].input(i));
      RangeObserver obs(c.name, ObserverOptions{});
      obs.observe(c.f32);
      const bool unsig = obs.min() >= 0;
      const QuantSpec spec{bits, !unsig};
      const QuantParams p = calibrate(obs, spec, {CalibMethod::MinMax, unsig, 99.99});
      IntData q;
      q.resize(c.f32.size());
      for (size_t e = 0; e < c.f32.size(); ++e)
        q.set(e, quantize_linear(c.f32[e], p.scale, p.zero_point, spec.storage()));
      const ElemType type = elem_of(spec);
      std::string name = c.name + "_cq";
      while (g.has(name)) name += "_";
      Tensor qt = make_ints(name, c.shape, type, std::move(q));
      qt.is_const = true;
      // The DequantizeLinear's output takes the constant's own name when nothing else reads the
      // float constant, so the FP32 model and the quantized one name it alike (`compare
      // --attribute` then finds its FP32 values and counts its rounding as input rounding).
      const bool sole = g.consumers(c.name).size() == 1 &&
                        std::find(g.outputs.begin(), g.outputs.end(), c.name) == g.outputs.end();
      if (sole) g.tensors.erase(c.name);
      Tensor dq = make_f32(sole ? c.name : name + "_dq", c.shape, {});
      dq.is_const = false;
      g.nodes[k].inputs[i] = dq.name;
      r.params[dq.name] = p;
      g.nodes.push_back(
          qdq_node(Op::DequantizeLinear, qt.name, dq.name, {type, -1, {p.scale}, {p.zero_point}}));
      g.tensors[qt.name] = std::move(qt);
      g.tensors[dq.name] = std::move(dq);
    }
}

}  // namespace tpusim::compiler
