// Pass: integers stored in an 8-bit type that provably fit a 4-bit type are stored in that 4-bit
// type. Exporters write sub-8-bit grids in 8-bit containers (Brevitas's QCDQ form, and tpusim's own
// exports: ONNX Runtime 1.30 rejects its own rewrites of 4-bit MaxPool, Clip and opset-21 QDQ): weights
// as int8 constants holding 4-bit values, activations as Clip -> QuantizeLinear(int8/uint8) ->
// DequantizeLinear, and a max pool or reshape of such a tensor re-quantized onto the same grid stays
// inside the same integers. Storing them in 4 bits is exact (every value fits) and gives the program
// the 4-bit tensors, MACs and DMA bytes the grid was meant for, the program the int4/uint4-typed form
// gives.
//
// Constants: an int8/uint8 constant that only DequantizeLinear reads, whose values and zero points fit
// the 4-bit type of its signedness. Activations: a forward walk bounds every float tensor
// (DequantizeLinear of a tensor with a known integer range, Relu and Clip, and the ops that only
// select or move values: MaxPool, Reshape, Flatten, ChannelGather, Rearrange, Concat). A QuantizeLinear maps
// its input's bound onto integers; when those and the zero point fit int4/uint4 (the container's signedness
// first), the Q output and the DequantizeLinear nodes that read it switch type, and a Clip before it that
// only restores the 4-bit type's own saturation goes. Graph outputs keep their type.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "compiler/canonicalize.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

namespace {

struct Range {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
};

struct IntRange {
  int64_t lo = 0, hi = 0;
};

bool fits(const IntRange& r, int64_t zp, ElemType t) {
  return r.lo >= qmin(t) && r.hi <= qmax(t) && zp >= qmin(t) && zp <= qmax(t);
}

// The 4-bit type a tensor of 8-bit type `t` with integers `r` and zero point `zp` fits, if any.
std::optional<ElemType> narrower(ElemType t, const IntRange& r, int64_t zp) {
  if (t != ElemType::U8 && t != ElemType::I8) return std::nullopt;
  const ElemType same = t == ElemType::U8 ? ElemType::U4 : ElemType::I4;
  const ElemType other = t == ElemType::U8 ? ElemType::I4 : ElemType::U4;
  if (fits(r, zp, same)) return same;
  if (fits(r, zp, other)) return other;
  return std::nullopt;
}

class Narrower {
 public:
  explicit Narrower(Graph& g) : g_(g) {}

  int run() {
    int narrowed = constants();
    for (Node& n : g_.nodes) {
      switch (n.op) {
        case Op::QuantizeLinear: narrowed += quantize(n); break;
        case Op::DequantizeLinear: dequantize(n); break;
        case Op::Relu:
          bound(n, [](Range r) { return Range{std::max(r.lo, 0.0f), std::max(r.hi, 0.0f)}; });
          break;
        case Op::Clip: {
          const auto& a = n.attr<ClipAttrs>();
          bound(n, [&](Range r) { return Range{std::max(r.lo, a.min), std::min(r.hi, a.max)}; });
          break;
        }
        case Op::MaxPool:
        case Op::Reshape:
        case Op::Flatten:
        case Op::ChannelGather:
        case Op::Rearrange: bound(n, [](Range r) { return r; }); break;
        case Op::Concat: concat(n); break;
        default: break;
      }
    }
    for (const std::string& clip : redundant_clips_) {
      const auto it =
          std::find_if(g_.nodes.begin(), g_.nodes.end(), [&](const Node& n) { return n.outputs[0] == clip; });
      const std::string x = it->inputs[0];
      g_.nodes.erase(it);
      for (Node& n : g_.nodes)
        for (std::string& in : n.inputs)
          if (in == clip) in = x;
      g_.tensors.erase(clip);
    }
    return narrowed;
  }

 private:
  Graph& g_;
  std::map<std::string, Range> floats_;   // bounded float tensors
  std::map<std::string, IntRange> ints_;  // integer ranges of quantized activations
  std::vector<std::string> redundant_clips_;

  // The DequantizeLinear nodes that are all of t's readers (none when another op reads it or it
  // is a graph output), provided their zero points fit type `to`.
  std::vector<Node*> dq_readers(const std::string& t, ElemType to) {
    std::vector<Node*> readers;
    if (std::find(g_.outputs.begin(), g_.outputs.end(), t) != g_.outputs.end()) return {};
    for (Node& c : g_.nodes) {
      if (std::find(c.inputs.begin(), c.inputs.end(), t) == c.inputs.end()) continue;
      if (c.op != Op::DequantizeLinear || c.input(0) != t) return {};
      for (int64_t z : c.attr<QuantAttrs>().zero_point)
        if (z < qmin(to) || z > qmax(to)) return {};
      readers.push_back(&c);
    }
    return readers;
  }

  int constants() {
    int narrowed = 0;
    for (auto& [name, t] : g_.tensors) {
      if (!t.is_const || (t.type != ElemType::I8 && t.type != ElemType::U8) || t.ints.empty()) continue;
      const ElemType to = t.type == ElemType::I8 ? ElemType::I4 : ElemType::U4;
      const auto [lo, hi] = std::minmax_element(t.ints.begin(), t.ints.end());
      if (*lo < qmin(to) || *hi > qmax(to)) continue;
      const std::vector<Node*> readers = dq_readers(name, to);
      if (readers.empty()) continue;
      t.type = to;
      for (Node* c : readers) c->attr<QuantAttrs>().qtype = to;
      ++narrowed;
    }
    return narrowed;
  }

  Range range_of(const std::string& t) const {
    auto it = floats_.find(t);
    return it == floats_.end() ? Range{} : it->second;
  }

  template <class F>
  void bound(const Node& n, F f) {
    const Range r = f(range_of(n.input(0)));
    if (std::isfinite(r.lo) || std::isfinite(r.hi)) floats_[n.outputs[0]] = r;
  }

  void concat(const Node& n) {
    Range r{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
    for (const std::string& in : n.inputs) {
      const Range k = range_of(in);
      r.lo = std::min(r.lo, k.lo), r.hi = std::max(r.hi, k.hi);
    }
    if (std::isfinite(r.lo) && std::isfinite(r.hi)) floats_[n.outputs[0]] = r;
  }

  void dequantize(const Node& n) {
    const auto& a = n.attr<QuantAttrs>();
    auto it = ints_.find(n.input(0));
    if (!a.per_tensor() || it == ints_.end()) return;
    const auto zp = static_cast<int32_t>(a.zero_point[0]);
    floats_[n.outputs[0]] = {dequantize_linear(static_cast<int32_t>(it->second.lo), a.scale[0], zp),
                             dequantize_linear(static_cast<int32_t>(it->second.hi), a.scale[0], zp)};
  }

  int quantize(Node& n) {
    auto& a = n.attr<QuantAttrs>();
    const auto dt = to_dtype(a.qtype);
    if (!a.per_tensor() || !dt) return 0;
    const Range r = range_of(n.input(0));
    const auto zp = static_cast<int32_t>(a.zero_point[0]);
    const auto q = [&](float v) -> int64_t {
      if (std::isinf(v)) return v < 0 ? qmin(a.qtype) : qmax(a.qtype);
      return quantize_linear(v, a.scale[0], zp, *dt);
    };
    const IntRange ir{q(r.lo), q(r.hi)};
    const std::string& y = n.outputs[0];
    ints_[y] = ir;
    const auto t = narrower(a.qtype, ir, zp);
    if (!t) return 0;
    const std::vector<Node*> readers = dq_readers(y, *t);
    if (readers.empty()) return 0;
    // A Clip only this Q reads, whose bounds quantize to the 4-bit type's ends or beyond:
    // Q(clip(x, lo, hi)) = clamp(Q(x), Q(lo), Q(hi)) (Q is monotonic), which the type's own
    // saturation now does.
    if (const Node* c = g_.producer(n.input(0));
        c && c->op == Op::Clip && g_.consumers(c->outputs[0]).size() == 1 &&
        std::find(g_.outputs.begin(), g_.outputs.end(), c->outputs[0]) == g_.outputs.end() &&
        q(c->attr<ClipAttrs>().min) <= qmin(*t) && q(c->attr<ClipAttrs>().max) >= qmax(*t))
      redundant_clips_.push_back(c->outputs[0]);
    a.qtype = *t;
    g_.tensor(y).type = *t;
    for (Node* c : readers) c->attr<QuantAttrs>().qtype = *t;
    return 1;
  }
};

}  // namespace

int narrow_storage(Graph& g) { return Narrower(g).run(); }

}  // namespace tpusim::compiler
