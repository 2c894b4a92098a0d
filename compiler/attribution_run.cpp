// Error attribution over a model (attribution.h) and its columns in `tpusim compare`'s outputs.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "compiler/attribution.h"
#include "compiler/batch_rows.h"
#include "compiler/compare.h"

namespace tpusim::compiler {

namespace {

constexpr const char* kKeys[kSources] = {"weight_rounding", "weight_clipping", "weight_update",
                                         "bias_rounding",   "input_rounding",  "input_clipping",
                                         "requant",         "multiplier",      "output_clipping"};

double sse(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    e += d * d;
  }
  return e;
}

// The eleven disjoint parts of the total energy, in the order of the table and CSV columns.
std::vector<std::pair<std::string, double>> parts(const Attribution& a) {
  std::vector<std::pair<std::string, double>> r;
  for (size_t s = 0; s < kSources; ++s) r.emplace_back(kKeys[s], a.alone[s]);
  r.emplace_back("interaction", a.interaction());
  r.emplace_back("upstream", a.upstream());
  return r;
}

}  // namespace

const char* source_key(Source s) { return kKeys[static_cast<size_t>(s)]; }

Sources Sources::all() {
  Sources s;
  s.on.fill(true);
  return s;
}

Sources Sources::only(Source x) {
  Sources s;
  s.on[static_cast<size_t>(x)] = true;
  return s;
}

double Attribution::interaction() const {
  double sum = 0;
  for (double e : alone) sum += e;
  return local - sum;
}

std::string Attribution::dominant() const {
  std::string best;
  double most = 0;
  for (const auto& [key, e] : parts(*this))
    if (e > most) best = key, most = e;
  return best.empty() ? "none" : best;
}

nlohmann::json Attribution::to_json() const {
  nlohmann::json j, energy;
  const double n = static_cast<double>(std::max<int64_t>(elements, 1));
  auto share = [&](double e) { return total > 0 ? e / total : 0.0; };
  for (const auto& [key, e] : parts(*this)) j[key] = share(e), energy[key] = e / n;
  const auto a = [&](Source s) { return alone[static_cast<size_t>(s)]; };
  j["rounding"] = share(a(Source::WeightRounding) + a(Source::BiasRounding) + a(Source::InputRounding));
  j["clipping"] = share(a(Source::WeightClipping) + a(Source::InputClipping) + a(Source::OutputClipping));
  j["activation_rounding"] = share(a(Source::InputRounding));
  j["activation_clipping"] = share(a(Source::InputClipping) + a(Source::OutputClipping));
  energy["total"] = total / n;
  energy["local"] = local / n;
  j["error_energy"] = energy;
  j["dominant"] = dominant();
  j["fp32_deviation"] = fp32_deviation;
  return j;
}

std::map<std::string, Attribution> attribute_layers(const IntGraph& g, const Graph& fp32_graph,
                                                    const TensorMap& fp32, const IntValues& quantized,
                                                    int64_t runs,
                                                    std::map<std::string, std::string>* skipped) {
  std::map<std::string, Attribution> r;
  std::vector<Sources> alone;
  for (size_t s = 0; s < kSources; ++s) alone.push_back(Sources::only(static_cast<Source>(s)));
  for (const IOp& op : g.ops) {
    std::unique_ptr<LayerEmulation> em;
    try {
      em = std::make_unique<LayerEmulation>(g, op, fp32_graph);
    } catch (const Error& e) {
      if (skipped) (*skipped)[op.output] = e.what();
      continue;
    }
    auto stacked = [&](const std::string& name) -> const Tensor& {
      auto it = fp32.find(name);
      if (it == fp32.end() || !is_float(it->second.type))
        throw Error(fmt::format("{}: FP32 tensor '{}' was not computed", g.source, name));
      return it->second;
    };
    Attribution a;
    const Shape& ys = fp32_graph.tensor(em->float_output()).shape;
    try {  // an FP32 node the emulation cannot run: the op is left out, with the reason
      for (int64_t k = 0; k < runs; ++k) {
        std::vector<std::vector<float>> in;
        // Run k's FP32 values of a tensor; a constant (a class token, a position embedding, a
        // requant of one) is the same in every run.
        auto value = [&](const std::string& name, const Shape& shape) {
          if (const Tensor* c = fp32_graph.constant(name); c && is_float(c->type)) return c->f32;
          return slice_rows(stacked(name), k, shape).f32;
        };
        for (const std::string& name : em->float_inputs())
          in.push_back(value(name, fp32_graph.tensor(name).shape));
        const std::vector<float> y = value(em->float_output(), ys);
        const std::vector<float> q =
            dequantize(slice_rows(quantized.at(op.output), k, g.tensor(op.output).shape));
        a.total += sse(y, q);
        a.local += sse(y, em->run(in, Sources::all()));
        const std::vector<float> off = em->run(in, Sources::none());
        for (size_t i = 0; i < y.size(); ++i)
          a.fp32_deviation = std::max(a.fp32_deviation, std::fabs(static_cast<double>(off[i]) - y[i]));
        for (size_t s = 0; s < kSources; ++s) a.alone[s] += sse(y, em->run(in, alone[s]));
        a.elements += static_cast<int64_t>(y.size());
      }
    } catch (const Error& e) {
      if (skipped) (*skipped)[op.output] = e.what();
      continue;
    }
    r[op.output] = a;
  }
  return r;
}

void attribute_compare(CompareResult& r, const CompareRun& run) {
  std::map<std::string, std::string> skipped;
  const std::map<std::string, Attribution> a =
      attribute_layers(run.graph, run.fp32_graph, run.fp32, run.ref.values, run.runs, &skipped);
  for (LayerError& e : r.layers) {
    if (auto it = a.find(e.name); it != a.end()) e.attribution = it->second;
    if (auto it = skipped.find(e.name); it != skipped.end()) e.attribution_skipped = it->second;
  }
}

std::string attribution_table(const CompareResult& r) {
  size_t wl = 5;
  for (const LayerError& e : r.layers) wl = std::max(wl, e.name.size());
  std::string out =
      "error attribution, % of each layer's error energy (FP32 inputs; docs/compare.md, \"Attribution\"):\n";
  out +=
      fmt::format("{:<{}}  {:>10}  {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6} {:>8}  {}\n",
                  "layer", wl, "error MSE", "w.rnd", "w.clip", "w.upd", "b.rnd", "a.rnd", "a.clip", "requant",
                  "mult", "o.clip", "inter", "upstream", "dominant");
  for (const LayerError& e : r.layers) {
    if (e.op == "input") continue;
    if (!e.attribution) {
      out += fmt::format("{:<{}}  not attributed: {}\n", e.name, wl, e.attribution_skipped);
      continue;
    }
    const Attribution& a = *e.attribution;
    out += fmt::format("{:<{}}  {:>10.4g} ", e.name, wl,
                       a.total / static_cast<double>(std::max<int64_t>(a.elements, 1)));
    const auto p = parts(a);
    for (size_t i = 0; i < p.size(); ++i)
      out += fmt::format(" {:>{}.1f}", a.total > 0 ? 100 * p[i].second / a.total : 0.0,
                         i == 6    ? 7
                         : i == 10 ? 8
                                   : 6);
    out += "  " + a.dominant() + "\n";
  }
  return out;
}

std::string attribution_csv_header() {
  std::string h;
  for (const auto& [key, e] : parts(Attribution{})) h += ",attr_" + key;
  return h + ",attr_total_mse,attr_dominant";
}

std::string attribution_csv_fields(const LayerError& e) {
  if (!e.attribution) return std::string(kSources + 4, ',');
  const Attribution& a = *e.attribution;
  std::string f;
  for (const auto& [key, v] : parts(a)) f += fmt::format(",{:.9g}", a.total > 0 ? v / a.total : 0.0);
  return f + fmt::format(",{:.9g},{}", a.total / static_cast<double>(std::max<int64_t>(a.elements, 1)),
                         a.dominant());
}

}  // namespace tpusim::compiler
