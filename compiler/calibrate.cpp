// Calibration of FP32 models into the QDQ form of lower.h (docs/compiler.md, "Calibration").
#include "compiler/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <set>
#include <span>

#include "base/error.h"
#include "compiler/calibrate_internal.h"
#include "compiler/fold_batchnorm.h"
#include "compiler/fp32_interp.h"
#include "compiler/pointwise.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

bool is_matmul_like(Op op) { return op == Op::Conv || op == Op::Gemm || op == Op::MatMul; }

namespace {

bool is_output(const Graph& g, const std::string& t) {
  return std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
}

// The tensor lowering quantizes after the op writing `t`: past a constant bias Add (after
// Conv/Gemm/MatMul) and any Relu/Clip, each the only consumer of the previous tensor.
std::string fused_tail(const Graph& g, std::string t, bool bias_add, std::set<std::string>& covered) {
  covered.insert(t);
  auto single = [&](const std::string& x) -> const Node* {
    const auto c = g.consumers(x);
    return c.size() == 1 && !is_output(g, x) ? c[0] : nullptr;
  };
  if (const Node* n = single(t);
      bias_add && n && n->op == Op::Add && (g.constant(n->input(0)) || g.constant(n->input(1))))
    covered.insert(t = n->outputs[0]);
  for (const Node* n = single(t); n && (n->op == Op::Relu || n->op == Op::Clip); n = single(t))
    covered.insert(t = n->outputs[0]);
  return t;
}

// Activation tensors the integer graph holds, in graph order.
std::vector<std::string> quant_points(const Graph& g) {
  std::vector<std::string> pts(g.inputs.begin(), g.inputs.end());
  std::set<std::string> covered(pts.begin(), pts.end());
  for (const Node& n : g.nodes) {
    const std::string& out = n.outputs[0];
    if (covered.count(out)) continue;
    bool point = false;
    switch (n.op) {
      case Op::Conv:
      case Op::Gemm:
      case Op::MatMul:
      case Op::MaxPool:
      case Op::AveragePool:
      case Op::GlobalAveragePool:
      case Op::Concat:
      case Op::ChannelAffine:
      case Op::LayerNormalization:
      case Op::Softmax:
      case Op::Relu:
      case Op::Clip: point = true; break;
      default: point = is_pointwise(n.op); break;
      case Op::Add:
      case Op::Mul: point = !g.constant(n.input(0)) || !g.constant(n.input(1)); break;  // not a bias: covered
    }
    // A bias folds into Conv/Gemm/MatMul with constant weights; after a MatMul of two activations
    // (Swin's relative position bias on the attention scores) the Add is an eltwise.
    const bool weights = is_matmul_like(n.op) && g.constant(n.input(1));
    if (point) pts.push_back(fused_tail(g, out, weights, covered));
  }
  return pts;
}

// Rewrites input 1 of node `n` (a constant float weight) into DequantizeLinear(int constant).
void quantize_weight(Graph& g, Node& n, int bits, std::map<std::string, std::string>& done) {
  const std::string w = n.input(1);
  const Tensor* wt = g.constant(w);
  if (!wt || wt->type != ElemType::F32) return;  // lowering reports it
  const int64_t axis = n.op == Op::Conv ? 0 : n.op == Op::Gemm && n.attr<GemmAttrs>().trans_b ? 0 : 1;
  const std::string key = fmt::format("{}#{}", w, axis);
  if (auto it = done.find(key); it != done.end()) {
    n.inputs[1] = it->second;
    return;
  }
  if (axis == 1 && wt->shape.size() != 2)
    g.fail(n, fmt::format("weight '{}' must be 2-D to be quantized", w));
  const int64_t oc = wt->shape[static_cast<size_t>(axis)], total = wt->elements(), inner = total / oc;
  // [oc][inner]: the weight itself along axis 0 (no copy: VGG's fc6 alone is 411 MB), else transposed.
  std::vector<float> transposed;
  auto at = [&](int64_t c, int64_t k) { return axis == 0 ? c * inner + k : k * oc + c; };
  if (axis != 0) {
    transposed.resize(static_cast<size_t>(total));
    for (int64_t c = 0; c < oc; ++c)
      for (int64_t k = 0; k < inner; ++k)
        transposed[static_cast<size_t>(c * inner + k)] = wt->f32[static_cast<size_t>(at(c, k))];
  }
  const std::span<const float> rows =
      axis == 0 ? std::span<const float>(wt->f32) : std::span<const float>(transposed);
  const QuantSpec spec{bits, true, true};
  const std::vector<float> s = per_channel_weight_scales(rows, oc, spec, w);
  IntData q;  // int8 storage: 1 byte per weight, never an int64 copy of the model
  q.resize(static_cast<size_t>(total));
  for (int64_t c = 0; c < oc; ++c)
    for (int64_t k = 0; k < inner; ++k) {
      const double v = std::nearbyint(static_cast<double>(rows[static_cast<size_t>(c * inner + k)]) / s[c]);
      q.set(static_cast<size_t>(at(c, k)),
            static_cast<int64_t>(std::clamp<double>(v, spec.qmin(), spec.qmax())));
    }
  const ElemType type = bits <= 4 ? ElemType::I4 : ElemType::I8;
  Tensor qt = make_ints(w + "_q", wt->shape, type, std::move(q));
  qt.is_const = true;
  Tensor dq = make_f32(w + "_dq", wt->shape, {});
  dq.is_const = false;
  n.inputs[1] = done[key] = dq.name;  // before push_back, which moves `n`
  g.nodes.push_back(
      qdq_node(Op::DequantizeLinear, qt.name, dq.name, {type, axis, s, std::vector<int64_t>(s.size(), 0)}));
  g.tensors[qt.name] = std::move(qt);
  g.tensors[dq.name] = std::move(dq);
  // The float weight goes as soon as nothing else reads it: a model's weights are then held about
  // once (float, then integers) instead of both at once (docs/performance.md, "Real models").
  if (g.consumers(w).empty() && std::find(g.outputs.begin(), g.outputs.end(), w) == g.outputs.end())
    g.tensors.erase(w);
}

}  // namespace

ElemType elem_of(const QuantSpec& s) {
  switch (s.storage()) {
    case DType::Int4: return ElemType::I4;
    case DType::UInt4: return ElemType::U4;
    case DType::Int8: return ElemType::I8;
    default: return ElemType::U8;
  }
}

Node qdq_node(Op op, const std::string& in, const std::string& out, QuantAttrs a) {
  Node n;
  n.name = out;
  n.op = op;
  n.inputs = {in};
  n.outputs = {out};
  n.attrs = std::move(a);
  return n;
}

void parse_bits(std::string_view spec, CalibConfig& c) {
  int w = 0, a = 0;
  char tail = 0;
  if (std::sscanf(std::string(spec).c_str(), "w%da%d%c", &w, &a, &tail) != 2)
    throw Error(fmt::format("--bits '{}': expected wNaM, e.g. w8a8, w4a4, w4a8, w8a4", spec));
  for (auto [bits, what] : {std::pair{w, "weights"}, std::pair{a, "activations"}})
    if (bits != 4 && bits != 8)
      throw Error(
          fmt::format("--bits '{}': {}-bit {} cannot be expressed with ONNX QDQ types (int8/uint8 or "
                      "int4/uint4): use 8 or 4 bits",
                      spec, bits, what));
  c.weight_bits = w;
  c.act_bits = a;
}

CalibResult quantize_fp32(Graph fp32, const NpyArray& calib, const CalibConfig& c) {
  for (int b : {c.weight_bits, c.act_bits})
    if (b != 4 && b != 8)
      throw Error(
          fmt::format("{}-bit quantization cannot be expressed with ONNX QDQ types (int8/uint8 or "
                      "int4/uint4): use 8 or 4 bits",
                      b));
  Graph g = std::move(fp32);
  fold_batchnorm(g);
  if (g.inputs.size() != 1)
    g.fail(fmt::format("calibration needs one model input, the model has {}", g.inputs.size()));
  const Tensor& in = g.tensor(g.inputs[0]);
  if (in.type != ElemType::F32 || in.shape.empty())
    g.fail(fmt::format("input '{}' must be a float tensor", in.name));
  const Shape sample(in.shape.begin() + 1, in.shape.end());
  const std::vector<int64_t> cs = calib.shape;
  const bool one = cs == sample;
  if (calib.type != NpyType::F32 && calib.type != NpyType::F64)
    throw Error(fmt::format("{}: calibration data is {}, expected float32 or float64", c.calib_source,
                            npy_type_name(calib.type)));
  if (!one && !(cs.size() == sample.size() + 1 && std::equal(sample.begin(), sample.end(), cs.begin() + 1)))
    throw Error(fmt::format("{}: calibration data has shape {}, expected [N, {}] for input '{}' {}",
                            c.calib_source, shape_str(cs),
                            shape_str(sample).substr(1, shape_str(sample).size() - 2), in.name,
                            shape_str(in.shape)));
  int64_t n = one ? 1 : cs[0];
  if (c.limit > 0) n = std::min(n, c.limit);
  const int64_t batch = in.shape[0], per = num_elements(sample);
  if (n < batch)
    throw Error(fmt::format("{}: {} calibration samples, the model's batch is {}", c.calib_source, n, batch));

  const std::vector<std::string> pts = quant_points(g);
  std::vector<RangeObserver> obs;
  // Histogram methods need data: about 8 values per bin (a GAP over few samples is sparse).
  for (const std::string& t : pts)
    obs.emplace_back(
        t, ObserverOptions{static_cast<int>(std::clamp<int64_t>(
               g.tensor(t).elements() / batch * (n / batch * batch) / 8, 16, kDefaultHistogramBins))});
  CalibResult r;
  for (int64_t s0 = 0; s0 + batch <= n; s0 += batch) {
    std::vector<float> x(static_cast<size_t>(batch * per));
    if (calib.type == NpyType::F32)
      std::memcpy(x.data(), calib.data.data() + s0 * per * 4, x.size() * 4);
    else  // float64, rounded to float32 as `tpusim run` does with float64 images
      for (size_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<float>(calib.at_f64(static_cast<uint64_t>(s0 * per) + i));
    const TensorMap out = run_fp32(g, {{in.name, make_f32(in.name, in.shape, std::move(x))}});
    for (size_t i = 0; i < pts.size(); ++i) {
      // Exact zeros (ReLU's spike) are on every grid; observed they make KL clip far too much.
      const std::vector<float>& v = out.at(pts[i]).f32;
      std::vector<float> nz;
      std::copy_if(v.begin(), v.end(), std::back_inserter(nz), [](float f) { return f != 0.0f; });
      obs[i].observe(nz.empty() ? v : nz);
    }
    r.samples += batch;
  }

  std::map<std::string, std::string> done;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (is_matmul_like(g.nodes[i].op) && g.constant(g.nodes[i].input(1)))
      quantize_weight(g, g.nodes[i], c.weight_bits, done);
  const std::set<std::string> sym = symmetric_points(g);
  quantize_constant_activations(g, c.act_bits, r);
  for (size_t i = 0; i < pts.size(); ++i) {
    const std::string& t = pts[i];
    const bool symmetric_signed = sym.count(t) > 0;  // attention's K, V
    const bool unsig = obs[i].min() >= 0 && !symmetric_signed;
    const QuantSpec spec{c.act_bits, !unsig};
    const QuantParams p = calibrate(obs[i], spec, {c.method, unsig || symmetric_signed, c.percentile});
    r.params[t] = p;
    const QuantAttrs a{elem_of(spec), -1, {p.scale}, {p.zero_point}};
    const Tensor src = g.tensor(t);
    std::string pre = t, post = t + "_dq";
    if (is_output(g, t)) {  // the output keeps its name: the producer writes <t>_f
      pre = t + "_f", post = t;
      for (Node& nd : g.nodes)
        if (nd.outputs[0] == t) nd.outputs[0] = pre;
      g.tensors[pre] = src, g.tensors[pre].name = pre;
    } else {
      for (Node& nd : g.nodes)
        for (std::string& s : nd.inputs)
          if (s == t) s = post;
    }
    Tensor q = src;
    q.name = t + "_q", q.type = a.qtype;
    Tensor d = src;
    d.name = post;
    g.tensors[q.name] = q;
    g.tensors[post] = d;
    g.nodes.push_back(qdq_node(Op::QuantizeLinear, pre, q.name, a));
    g.nodes.push_back(qdq_node(Op::DequantizeLinear, q.name, post, a));
  }
  g.topo_sort();
  g.remove_unused_tensors();
  r.graph = std::move(g);
  return r;
}

}  // namespace tpusim::compiler
