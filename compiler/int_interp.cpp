#include "compiler/int_interp.h"

#include <fmt/format.h>

#include "base/error.h"
#include "compiler/int_kernels.h"
#include "compiler/tensor_io.h"
#include "isa/numerics.h"
#include "quant/quantize.h"

namespace tpusim::compiler {

namespace {

IntValue empty_value(const ITensor& t) { return {t.shape, t.dtype, t.scale, t.zero_point, {}}; }

// The value of tensor `name`; a view is built from its storage on first use.
const IntValue& fetch(const IntGraph& g, IntValues& values, const std::string& name) {
  auto it = values.find(name);
  if (it != values.end()) return it->second;
  const ITensor& t = g.tensor(name);
  if (t.view_of.empty())
    throw Error(fmt::format("{}: tensor '{}' is used before it is computed", g.source, name));
  IntValue v = empty_value(t);
  v.data = fetch(g, values, t.view_of).data;
  return values[name] = std::move(v);
}

ElemType elem_type(DType t) {
  switch (t) {
    case DType::Int8: return ElemType::I8;
    case DType::UInt8: return ElemType::U8;
    case DType::Int4: return ElemType::I4;
    case DType::UInt4: return ElemType::U4;
    case DType::Int32: return ElemType::I32;
  }
  return ElemType::I32;
}

}  // namespace

uint64_t run_int_op(const IntGraph& g, const IOp& op, IntValues& values) {
  namespace k = int_kernels;
  std::vector<const IntValue*> in;
  for (const std::string& name : op.inputs)
    in.push_back(&fetch(g, values, name));  // std::map: stable addresses
  IntValue y = empty_value(g.tensor(op.output));
  uint64_t overflows = 0;
  if (const IConv* c = op.as<IConv>())
    overflows = k::conv(*c, op.rq, *in[0], y);
  else if (const IMatmul* m = op.as<IMatmul>())
    overflows = k::matmul(*m, op.rq, *in[0], y);
  else if (const IPool* p = op.as<IPool>())
    overflows = k::pool(*p, op.rq, *in[0], y);
  else if (const IEltwise* e = op.as<IEltwise>())
    overflows = k::eltwise(*e, op.rq, *in[0], *in[1], y);
  else if (const IRequant* r = op.as<IRequant>())
    overflows = k::requant(*r, op.rq, *in[0], y);
  else if (const ILut* l = op.as<ILut>())
    k::lut(*l, *in[0], y);
  else if (const IGather* gt = op.as<IGather>())
    k::gather(*gt, *in[0], y);
  else if (const IRearrange* ra = op.as<IRearrange>())
    k::rearrange(*ra, *in[0], y);
  else if (const ILayerNorm* ln = op.as<ILayerNorm>())
    overflows = k::layer_norm(*ln, op.rq, *in[0], y);
  else if (const ISoftmax* sm = op.as<ISoftmax>())
    overflows = k::softmax(*sm, op.rq, *in[0], y);
  else if (const IActMatmul* am = op.as<IActMatmul>())
    overflows = k::act_matmul(*am, op.rq, *in[0], *in[1], y);
  else
    k::concat(std::get<IConcat>(op.kind), in, y);
  values[op.output] = std::move(y);
  return overflows;
}

IntRun run_int(const IntGraph& g, const IntValues& inputs) {
  IntRun run;
  for (const std::string& name : g.inputs) {
    auto it = inputs.find(name);
    if (it == inputs.end()) throw Error(fmt::format("{}: integer input '{}' was not given", g.source, name));
    const ITensor& t = g.tensor(name);
    IntValue v = empty_value(t);
    v.data = it->second.data;
    if (static_cast<int64_t>(v.data.size()) != num_elements(t.shape))
      throw Error(fmt::format("{}: input '{}' has {} elements, the model expects {} {}", g.source, name,
                              v.data.size(), shape_str(t.shape), num_elements(t.shape)));
    for (int32_t q : v.data)
      if (q != saturate(q, t.dtype))
        throw Error(
            fmt::format("{}: input '{}' holds {}, outside {}", g.source, name, q, tpusim::name(t.dtype)));
    run.values[name] = std::move(v);
  }
  for (const auto& [name, t] : g.tensors)
    if (!t.data.empty()) {
      IntValue v = empty_value(t);
      v.data = t.data;
      run.values[name] = std::move(v);
    }
  for (const IOp& op : g.ops)
    if (const uint64_t n = run_int_op(g, op, run.values)) run.acc_overflows[op.output] += n;
  for (const auto& [name, t] : g.tensors)
    if (!t.view_of.empty() && run.values.count(t.view_of)) fetch(g, run.values, name);
  return run;
}

IntValues quantize_inputs(const IntGraph& g, const TensorMap& float_inputs) {
  IntValues r;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const std::string& fname = g.float_inputs[i];
    auto it = float_inputs.find(fname);
    if (it == float_inputs.end()) throw Error(fmt::format("{}: input '{}' was not given", g.source, fname));
    const ITensor& t = g.tensor(g.inputs[i]);
    IntValue v = empty_value(t);
    const Tensor& x = it->second;
    if (is_float(x.type))
      for (float f : x.f32) v.data.push_back(quantize_linear(f, t.scale, t.zero_point, t.dtype));
    else
      for (int64_t q : x.ints) v.data.push_back(static_cast<int32_t>(q));
    r[g.inputs[i]] = std::move(v);
  }
  return r;
}

std::vector<float> dequantize(const IntValue& v) {
  std::vector<float> r;
  r.reserve(v.data.size());
  for (int32_t q : v.data) r.push_back(dequantize_linear(q, v.scale, v.zero_point));
  return r;
}

TensorMap int_dump_tensors(const IntRun& run) {
  TensorMap r;
  for (const auto& [name, v] : run.values) {
    std::vector<int64_t> ints(v.data.begin(), v.data.end());
    r[name] = make_ints(name, v.shape, elem_type(v.dtype), std::move(ints));
    r[name + "_dq"] = make_f32(name + "_dq", v.shape, dequantize(v));
  }
  return r;
}

void save_int_dump(const IntRun& run, const std::string& path) {
  save_tensors_npz(int_dump_tensors(run), path);
}

}  // namespace tpusim::compiler
