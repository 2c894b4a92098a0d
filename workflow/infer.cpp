#include "workflow/infer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "base/error.h"
#include "base/npy.h"
#include "base/npz.h"
#include "compiler/backend.h"
#include "compiler/batch_rows.h"
#include "compiler/fp32_interp.h"
#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "compiler/tensor_io.h"
#include "sim/host_io.h"

namespace tpusim::workflow {

namespace {

using compiler::Tensor;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One array per graph input, keyed by input name; `source` names where each came from.
struct Inputs {
  std::map<std::string, NpyArray> arrays;
  std::map<std::string, std::string> source;
};

Inputs load_inputs(const std::vector<std::string>& args, const std::vector<std::string>& names,
                   const std::string& model) {
  Inputs in;
  if (args.size() == 1 && ends_with(args[0], ".npz")) {
    std::vector<std::string> members;
    for (NpzMember& m : load_npz(args[0])) {
      members.push_back(m.name);
      const auto it = std::find_if(names.begin(), names.end(), [&](const std::string& n) {
        return n == m.name || compiler::sanitize_member_name(n) == m.name;
      });
      if (it == names.end())
        throw Error(fmt::format("{}: member '{}' is not an input of {} (inputs: {})", args[0], m.name, model,
                                fmt::join(names, ", ")));
      in.arrays[*it] = std::move(m.array);
      in.source[*it] = fmt::format("{}:{}", args[0], m.name);
    }
    for (const std::string& n : names)
      if (!in.arrays.count(n))
        throw Error(fmt::format("{}: has no member for input '{}' of {} (members: {})", args[0], n, model,
                                fmt::join(members, ", ")));
    return in;
  }
  size_t next = 0;
  for (const std::string& a : args) {
    const size_t eq = a.find('=');
    std::string name, path = a;
    if (eq != std::string::npos && std::find(names.begin(), names.end(), a.substr(0, eq)) != names.end()) {
      name = a.substr(0, eq);
      path = a.substr(eq + 1);
    } else {
      while (next < names.size() && in.arrays.count(names[next])) ++next;
      if (next == names.size())
        throw Error(
            fmt::format("{}: more inputs given than {} has (inputs: {})", a, model, fmt::join(names, ", ")));
      name = names[next];
    }
    if (in.arrays.count(name)) throw Error(fmt::format("{}: input '{}' is given twice", a, name));
    in.arrays[name] = load_npy(path);
    in.source[name] = path;
  }
  for (const std::string& n : names)
    if (!in.arrays.count(n))
      throw Error(fmt::format("{}: input '{}' was not given (-i {}=PATH)", model, n, n));
  return in;
}

// An integer output as the graph writes it: dequantized when the graph output is float.
Tensor graph_value(const std::string& name, compiler::ElemType type, const compiler::Shape& shape, DType dt,
                   float scale, int32_t zp, const std::vector<int32_t>& q) {
  compiler::IntValue v{shape, dt, scale, zp, q};
  if (compiler::is_float(type)) return compiler::make_f32(name, shape, compiler::dequantize(v));
  return compiler::make_ints(name, shape, type, std::vector<int64_t>(q.begin(), q.end()));
}

}  // namespace

InferResult infer(const InferOptions& o) {
  if (o.engine != "fp32" && o.engine != "int" && o.engine != "sim")
    throw Error(fmt::format("--engine '{}': expected fp32, int or sim", o.engine));
  const compiler::Graph probe = compiler::import_onnx(o.model, {1});
  const Inputs in = load_inputs(o.inputs, probe.inputs, o.model);
  const NpyArray& first = in.arrays.at(probe.inputs[0]);
  const int64_t lead = first.shape.empty() ? 1 : first.shape[0];
  // The FP32 interpreter runs the whole batch at once when the model's batch is dynamic; lowering
  // works on the model as `compile` imports it (batch 1 when dynamic), so `infer --calib` and
  // `compile --calib` calibrate alike.
  const compiler::Graph g = o.engine == "fp32" ? compiler::import_onnx(o.model, {lead}) : probe;
  InferResult res;
  std::map<std::string, Tensor> whole;
  for (const std::string& name : g.inputs) {
    const Tensor& want = g.tensor(name);
    const NpyArray& a = in.arrays.at(name);
    const compiler::Shape rest(want.shape.begin() + (want.shape.empty() ? 0 : 1), want.shape.end());
    const bool exact = a.shape == want.shape;
    const bool stacked = !want.shape.empty() && a.shape.size() == want.shape.size() &&
                         std::equal(rest.begin(), rest.end(), a.shape.begin() + 1) && a.shape[0] > 0 &&
                         a.shape[0] % want.shape[0] == 0;
    if (!exact && !stacked)
      throw Error(fmt::format("{}: shape {} does not fit input '{}' {} of {}", in.source.at(name),
                              compiler::shape_str(a.shape), name, compiler::shape_str(want.shape), o.model));
    const int64_t runs =
        exact ? 1 : a.shape[0] / want.shape[0];  // a model of batch N over B rows: B / N runs
    if (res.runs != 0 && runs != res.runs)
      throw Error(fmt::format("{}: {} rows make {} runs, the other inputs {}", in.source.at(name), a.shape[0],
                              runs, res.runs));
    res.runs = runs;
    Tensor t =
        compiler::from_npy(a, name, compiler::is_float(want.type) ? compiler::ElemType::F32 : want.type);
    t.type = want.type;
    whole[name] = std::move(t);
  }
  if (o.engine == "fp32") {
    for (int64_t r = 0; r < res.runs; ++r) {
      compiler::TensorMap ins;
      for (const std::string& name : g.inputs)
        ins[name] = compiler::slice_rows(whole.at(name), r, g.tensor(name).shape);
      compiler::TensorMap outs = compiler::run_fp32(g, ins);
      for (const std::string& y : g.outputs) compiler::append_rows(res.outputs[y], outs.at(y), res.runs);
    }
    return res;
  }
  const compiler::IntGraph ig = compiler::lower_qdq(quantized_graph(g, o.model, o.calib));
  if (o.engine == "int") {
    for (int64_t r = 0; r < res.runs; ++r) {
      compiler::TensorMap ins;
      for (const std::string& name : g.inputs)
        ins[name] = compiler::slice_rows(whole.at(name), r, g.tensor(name).shape);
      const compiler::IntRun run = compiler::run_int(ig, compiler::quantize_inputs(ig, ins));
      for (size_t k = 0; k < ig.outputs.size(); ++k) {
        const compiler::IntValue& v = run.values.at(ig.outputs[k]);
        const std::string& y = ig.float_outputs[k];
        compiler::append_rows(
            res.outputs[y], graph_value(y, g.tensor(y).type, v.shape, v.dtype, v.scale, v.zero_point, v.data),
            res.runs);
      }
    }
    return res;
  }
  const Arch arch = resolve_arch(o.arch);
  const Program p = compiler::compile_int_graph(ig, arch);
  std::vector<sim::HostArray> host;  // in the program's input order
  for (const TensorDesc& d : p.inputs)
    host.push_back({in.source.at(d.name), in.arrays.at(d.name)});  // ONNX names
  const sim::BatchResult br = sim::run_batch(p, arch, host, {});
  res.cycles = br.total.total_cycles;
  for (size_t k = 0; k < p.outputs.size(); ++k) {
    const TensorDesc& d = p.outputs[k];
    const std::string& y = d.name;
    compiler::Shape shape = d.shape;
    if (!shape.empty()) shape[0] *= br.runs;
    res.outputs[y] = graph_value(y, g.tensor(y).type, shape, d.dtype, d.scale, d.zero_point, br.outputs[k]);
  }
  return res;
}

}  // namespace tpusim::workflow
