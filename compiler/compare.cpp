#include "compiler/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "compiler/batch_rows.h"
#include "compiler/fold_batchnorm.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "compiler/shape_infer.h"
#include "compiler/strip_qdq.h"

namespace tpusim::compiler {

LayerError layer_error(std::span<const float> fp32, std::span<const float> quantized) {
  if (fp32.size() != quantized.size())
    throw Error(
        fmt::format("layer_error: {} FP32 values, {} quantized values", fp32.size(), quantized.size()));
  double xx = 0, qq = 0, xq = 0, ee = 0;
  LayerError r;
  for (size_t i = 0; i < fp32.size(); ++i) {
    const double x = fp32[i], q = quantized[i], e = x - q;
    xx += x * x, qq += q * q, xq += x * q, ee += e * e;
    r.max_abs_err = std::max(r.max_abs_err, std::fabs(e));
    r.fp32_max_abs = std::max(r.fp32_max_abs, std::fabs(x));
  }
  // Two all-zero tensors point the same way; one all-zero tensor has no direction to agree with.
  r.cosine = xx == 0 && qq == 0 ? 1.0 : xx == 0 || qq == 0 ? 0.0 : xq / std::sqrt(xx * qq);
  r.sqnr_db = ee == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(xx / ee);
  return r;
}

namespace {

const Tensor* float_tensor(const TensorMap& fp32, const std::string& name) {
  if (name.empty()) return nullptr;
  auto it = fp32.find(name);
  return it != fp32.end() && is_float(it->second.type) ? &it->second : nullptr;
}

// Measures integer tensor `name` against the first of `float_names` the FP32 run has.
void add_layer(CompareResult& r, const IntGraph& g, const IntValues& q, const TensorMap& fp32,
               const std::string& name, const std::vector<std::string>& float_names, const std::string& op) {
  const Tensor* f = nullptr;
  for (const std::string& n : float_names)
    if ((f = float_tensor(fp32, n))) break;
  if (!f) {
    r.skipped.push_back(name);
    return;
  }
  auto it = q.find(name);
  if (it == q.end()) throw Error(fmt::format("{}: no quantized values for tensor '{}'", g.source, name));
  const Shape& shape = it->second.shape;  // the runs' stacked shape (batch_rows.h)
  if (f->elements() != num_elements(shape))
    throw Error(fmt::format("{}: tensor '{}' {} does not match the FP32 tensor '{}' {}", g.source, name,
                            shape_str(shape), f->name, shape_str(f->shape)));
  const std::vector<float> dq = dequantize(it->second);
  LayerError e = layer_error(f->f32, dq);
  e.name = name, e.float_name = f->name, e.op = op, e.shape = shape;
  r.layers.push_back(std::move(e));
}

}  // namespace

CompareResult compare_layers(const IntGraph& g, const IntValues& quantized, const TensorMap& fp32) {
  CompareResult r;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    add_layer(r, g, quantized, fp32, g.inputs[i], {g.float_inputs[i], g.tensor(g.inputs[i]).float_name},
              "input");
  for (const IOp& op : g.ops) {
    // A graph output's Q input may be renamed (calibration writes "<y>_f"); its DQ output is not.
    std::vector<std::string> names = {g.tensor(op.output).float_name};
    for (size_t i = 0; i < g.outputs.size(); ++i)
      if (g.outputs[i] == op.output) names.push_back(g.float_outputs[i]);
    add_layer(r, g, quantized, fp32, op.output, names, kind_name(op));
  }
  return r;
}

namespace {

bool has_qdq(const Graph& g) {
  return std::any_of(g.nodes.begin(), g.nodes.end(), [](const Node& n) {
    return n.op == Op::QuantizeLinear || n.op == Op::DequantizeLinear;
  });
}

const std::string& float_input(const Graph& g) {
  if (g.inputs.size() != 1 || !is_float(g.tensor(g.inputs[0]).type))
    g.fail(fmt::format("compare needs a model with one float32 input, this one has {} input(s)",
                       g.inputs.size()));
  return g.inputs[0];
}

// Checks that g (imported from `path` at batch N) takes the images (shape `want`).
Graph fitting(Graph g, const std::string& path, int64_t n, const Shape& want, const std::string& source) {
  const Tensor& x = g.tensor(float_input(g));
  if (x.shape != want)
    throw Error(
        fmt::format("{}: shape {} does not fit input '{}' {} of {}{}", source, shape_str(want), x.name,
                    shape_str(x.shape), path,
                    x.shape.empty() || x.shape[0] == n ? "" : " (the model's batch dimension is fixed)"));
  return g;
}

// Imports `path` at batch N and checks its input takes the images (shape `want`).
Graph import_at(const std::string& path, int64_t n, const Shape& want, const std::string& source) {
  return fitting(import_onnx(path, {n}), path, n, want, source);
}

}  // namespace

CompareRun run_compare(const CompareInputs& in) {
  const NpyArray& a = in.input;
  if (!a.is_float())  // float64 as `tpusim run` takes it: rounded to float32 below
    throw Error(fmt::format("{}: images are {}, expected float32 or float64", in.input_source,
                            npy_type_name(a.type)));
  // The batch-1 import tells the input's rank: [N, C, H, W] images, or one image [C, H, W].
  const Graph probe = import_onnx(in.model);
  const Shape& s1 = probe.tensor(float_input(probe)).shape;
  Shape want = a.shape;
  if (want.size() + 1 == s1.size()) want.insert(want.begin(), 1);
  if (want.size() != s1.size() || want.empty() || want[0] < 1)
    throw Error(fmt::format("{}: shape {} does not fit input '{}' {} of {} (expected [N, {}])",
                            in.input_source, shape_str(a.shape), probe.inputs[0], shape_str(s1), in.model,
                            shape_str(Shape(s1.begin() + 1, s1.end())).substr(1)));
  const int64_t n = want[0];
  // A model whose batch is fixed at b (torch.onnx writes 1) runs the images b at a time.
  // Imported at batch N, a fixed-batch model keeps its own batch.
  int64_t per = n;
  Graph batch_n = import_onnx(in.model, {n});
  if (const Shape& at_n = batch_n.tensor(float_input(batch_n)).shape;
      at_n != want && at_n.size() == want.size() && at_n[0] >= 1 && n % at_n[0] == 0 &&
      std::equal(at_n.begin() + 1, at_n.end(), want.begin() + 1))
    per = at_n[0];
  Shape want_run = want;
  want_run[0] = per;
  const Graph g = fitting(std::move(batch_n), in.model, per, want_run, in.input_source);

  CompareRun r;
  r.images = n;
  r.runs = n / per;
  Graph qdq, fg;
  if (in.calib) {
    if (has_qdq(g)) g.fail("calibration data given, but the model is already quantized (QDQ)");
    // Calibrated at the model's own batch (every sample used), then rebound to N images.
    qdq = quantize_fp32(probe, *in.calib, in.calib_config).graph;
    Tensor& x = qdq.tensor(float_input(qdq));
    if (x.shape != want_run) {
      x.shape = want_run;
      infer_shapes(qdq);
    }
    fg = g;
    fold_batchnorm(fg);
    r.fp32_side = in.model + ", BN folded";
  } else {
    if (!has_qdq(g))
      g.fail(
          "an FP32 model (no QuantizeLinear/DequantizeLinear): give calibration data (--calib) to quantize "
          "it, "
          "or a QDQ model");
    qdq = g;
    fg = strip_activation_qdq(g);
    r.fp32_side = in.model + " without activation QDQ";
  }
  if (!in.fp32_model.empty()) {
    fg = import_at(in.fp32_model, per, want_run, in.input_source);
    r.fp32_side = in.fp32_model;
  }
  r.graph = lower_qdq(qdq);
  r.fp32_graph = fg;

  const std::string& fin = float_input(fg);
  const std::string& qin = r.graph.float_inputs.at(0);
  const int64_t e = num_elements(want_run);
  for (int64_t k = 0; k < r.runs; ++k) {
    std::vector<float> x(static_cast<size_t>(e));
    for (int64_t i = 0; i < e; ++i)
      x[static_cast<size_t>(i)] = static_cast<float>(a.at_f64(static_cast<uint64_t>(k * e + i)));
    TensorMap fp = run_fp32(fg, {{fin, make_f32(fin, want_run, x)}});
    IntRun ir = run_int(r.graph, quantize_inputs(r.graph, {{qin, make_f32(qin, want_run, std::move(x))}}));
    if (r.runs == 1) {
      r.fp32 = std::move(fp);
      r.ref = std::move(ir);
      break;
    }
    append_rows(r.fp32, fp, r.runs);
    append_rows(r.ref.values, ir.values, r.runs);
    for (const auto& [name, count] : ir.acc_overflows) r.ref.acc_overflows[name] += count;
  }
  return r;
}

void require_matches(const CompareResult& r, const std::string& fp32_side) {
  // The model input always matches by name: a comparison needs at least one computed layer.
  if (std::all_of(r.layers.begin(), r.layers.end(), [](const LayerError& e) { return e.op == "input"; }))
    throw Error(fmt::format("{}: no tensor of the FP32 run matches a quantized layer by name ({} skipped)",
                            fp32_side, r.skipped.size()));
}

CompareResult compare_model(const CompareInputs& in) {
  const CompareRun run = run_compare(in);
  CompareResult r = compare_layers(run.graph, run.ref.values, run.fp32);
  require_matches(r, run.fp32_side);
  return r;
}

namespace {

std::string dims(const Shape& s) {
  std::string r;
  for (int64_t d : s) r += (r.empty() ? "" : "x") + std::to_string(d);
  return r;
}

std::string num(double v, const char* spec) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format(fmt::runtime(spec), v);
}

bool any_sim(const CompareResult& r) {
  return std::any_of(r.layers.begin(), r.layers.end(), [](const LayerError& e) { return e.sim_equals_ref; });
}

bool any_attribution(const CompareResult& r) {
  return std::any_of(r.layers.begin(), r.layers.end(),
                     [](const LayerError& e) { return e.attribution || !e.attribution_skipped.empty(); });
}

}  // namespace

std::string compare_table(const CompareResult& r, const std::string& title) {
  size_t wl = 5, wf = 11, ws = 5;
  for (const LayerError& e : r.layers) {
    wl = std::max(wl, e.name.size()), wf = std::max(wf, e.float_name.size());
    ws = std::max(ws, dims(e.shape).size());
  }
  const bool sim = any_sim(r);
  std::string out = title + "\n";
  out += fmt::format("{:<{}}  {:<{}}  {:<7}  {:<{}}  {:>9}  {:>8}  {:>11}  {:>12}{}\n", "layer", wl,
                     "fp32 tensor", wf, "op", "shape", ws, "cosine", "SQNR dB", "max abs err", "fp32 max abs",
                     sim ? "  sim==ref" : "");
  const LayerError* worst = nullptr;
  for (const LayerError& e : r.layers) {
    out += fmt::format("{:<{}}  {:<{}}  {:<7}  {:<{}}  {:>9}  {:>8}  {:>11}  {:>12}", e.name, wl,
                       e.float_name, wf, e.op, dims(e.shape), ws, num(e.cosine, "{:.6f}"),
                       num(e.sqnr_db, "{:.2f}"), num(e.max_abs_err, "{:.4g}"), num(e.fp32_max_abs, "{:.4g}"));
    if (sim) out += fmt::format("  {:>8}", !e.sim_equals_ref ? "-" : *e.sim_equals_ref ? "yes" : "NO");
    out += "\n";
    if (e.op != "input" && (!worst || e.sqnr_db < worst->sqnr_db)) worst = &e;
  }
  if (worst)
    out += fmt::format("lowest SQNR: {} ({} dB, cosine {:.6f})\n", worst->name, num(worst->sqnr_db, "{:.2f}"),
                       worst->cosine);
  if (!r.skipped.empty()) {
    out += fmt::format("skipped ({} integer tensors with no FP32 counterpart):", r.skipped.size());
    for (const std::string& s : r.skipped) out += " " + s;
    out += "\n";
  }
  if (any_attribution(r)) out += attribution_table(r);
  return out;
}

std::string compare_csv(const CompareResult& r) {
  const bool sim = any_sim(r);
  std::string out = "layer,op,shape,cosine,sqnr_db,max_abs_err,fp32_max_abs";
  const bool attr = any_attribution(r);
  out += sim ? ",sim_equals_ref,fp32_tensor" : ",fp32_tensor";
  out += (attr ? attribution_csv_header() : "") + "\n";
  // Tensor names come from the model: quote any that holds a comma or a quote.
  auto field = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (const LayerError& e : r.layers) {
    out += fmt::format("{},{},{},{},{},{},{}", field(e.name), e.op, dims(e.shape), num(e.cosine, "{:.9g}"),
                       num(e.sqnr_db, "{:.9g}"), num(e.max_abs_err, "{:.9g}"), num(e.fp32_max_abs, "{:.9g}"));
    if (sim) out += !e.sim_equals_ref ? "," : *e.sim_equals_ref ? ",true" : ",false";
    out += "," + field(e.float_name) + (attr ? attribution_csv_fields(e) : "") + "\n";
  }
  return out;
}

nlohmann::json compare_json(const CompareResult& r) {
  // JSON has no infinity: SQNR of an exact layer is the string "inf".
  auto number = [](double v) { return std::isinf(v) ? nlohmann::json(num(v, "")) : nlohmann::json(v); };
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerError& e : r.layers) {
    nlohmann::json j = {{"layer", e.name},
                        {"fp32_tensor", e.float_name},
                        {"op", e.op},
                        {"shape", e.shape},
                        {"cosine", e.cosine},
                        {"sqnr_db", number(e.sqnr_db)},
                        {"max_abs_err", e.max_abs_err},
                        {"fp32_max_abs", e.fp32_max_abs}};
    if (e.sim_equals_ref) j["sim_equals_ref"] = *e.sim_equals_ref;
    if (e.attribution) j["attribution"] = e.attribution->to_json();
    if (!e.attribution_skipped.empty()) j["attribution_skipped"] = e.attribution_skipped;
    layers.push_back(std::move(j));
  }
  return {{"layers", std::move(layers)}, {"skipped", r.skipped}};
}

}  // namespace tpusim::compiler
