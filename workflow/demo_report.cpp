// report.json -> report.md for `tpusim demo`: the tables a reader wants first, the plots made by
// scripts/demo_plots.py embedded beside them.
#include <fmt/format.h>

#include <algorithm>

#include "workflow/demo_steps.h"

namespace tpusim::workflow {

namespace {

using nlohmann::json;

std::string pct(const json& v) { return v.is_number() ? fmt::format("{:.2f}%", 100 * v.get<double>()) : ""; }

std::string accuracy_table(const json& r) {
  std::string s =
      "| variant | FP32 | fake-quant | integer reference | simulator | simulator == reference |\n"
      "|---|---|---|---|---|---|\n";
  for (const json& v : r["variants"]) {
    const json& a = v["accuracy"];
    std::string same;
    if (v.contains("sim_vs_int_ref")) {
      const json& c = v["sim_vs_int_ref"];
      same = fmt::format("{}/{} outputs{}", c["identical_outputs"].get<int64_t>(), c["images"].get<int64_t>(),
                         c["identical_outputs"] == c["images"] ? " bit-exact" : " (MISMATCH)");
    }
    s += fmt::format("| {} | {} | {} | {} | {} | {} |\n", v["label"].get<std::string>(),
                     pct(a.value("fp32", json())), pct(a.value("fake_quant", json())),
                     pct(a.value("int_ref", json())), pct(a.value("sim", json())), same);
  }
  return s;
}

std::string layer_cell(const json& l) {
  const std::string sqnr =
      l["sqnr_db"].is_number() ? fmt::format("{:.1f}", l["sqnr_db"].get<double>()) : "inf";
  return fmt::format("{:.4f} / {}", l["cosine"].get<double>(), sqnr);
}

// The largest part of a layer's error and its share (docs/compare.md, "Attribution").
std::string attribution_cell(const json& l) {
  if (!l.contains("attribution")) return "";
  const json& a = l["attribution"];
  const std::string d = a["dominant"].get<std::string>();
  return a.contains(d) ? fmt::format("{} {:.0f}%", d, 100 * a[d].get<double>()) : d;
}

bool any_attribution(const json& r) {
  for (const json& v : r["variants"])
    for (const json& l : v.value("layers", json::array()))
      if (l.contains("attribution")) return true;
  return false;
}

// One row per layer, one column per variant with layers, `cell` of each.
std::string layers_table(const json& r, std::string (*cell)(const json&)) {
  std::vector<std::string> names;
  std::vector<const json*> qs;
  for (const json& v : r["variants"]) {
    if (!v.contains("layers")) continue;
    qs.push_back(&v);
    for (const json& l : v["layers"])
      if (std::find(names.begin(), names.end(), l["name"]) == names.end()) names.push_back(l["name"]);
  }
  if (qs.empty()) return "";
  std::string s = "| layer |", rule = "|---|";
  for (const json* v : qs) {
    s += fmt::format(" {} |", (*v)["label"].get<std::string>());
    rule += "---|";
  }
  s += "\n" + rule + "\n";
  for (const std::string& n : names) {
    std::string row, cells;
    for (const json* v : qs) {
      const json& ls = (*v)["layers"];
      const auto it = std::find_if(ls.begin(), ls.end(), [&](const json& l) { return l["name"] == n; });
      const std::string c = it == ls.end() ? std::string() : cell(*it);
      row += " " + c + " |", cells += c;
    }
    if (!cells.empty()) s += "| " + n + " |" + row + "\n";  // a row with no cell at all is left out
  }
  return s;
}

std::string perf_table(const json& r) {
  std::string s =
      "| variant | cycles | latency | MAC utilization | DDR read | DDR write | GDMA busy | TIU busy |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const json& v : r["variants"]) {
    if (!v.contains("perf")) continue;
    const json& p = v["perf"];
    const double cycles = p["cycles"].get<double>();
    auto busy = [&](const char* e) {
      return 100 * p["engines"][e]["busy"].get<double>() / std::max(1.0, cycles);
    };
    s += fmt::format("| {} | {:.0f} | {:.1f} us | {:.1f}% | {:.1f} KiB | {:.1f} KiB | {:.0f}% | {:.0f}% |\n",
                     v["label"].get<std::string>(), cycles, p["latency_us"].get<double>(),
                     100 * p["mac_utilization"].get<double>(), p["ddr_read_bytes"].get<double>() / 1024,
                     p["ddr_write_bytes"].get<double>() / 1024, busy("gdma"), busy("tiu"));
  }
  return s;
}

}  // namespace

std::string demo_markdown(const json& r) {
  const bool plots = r.value("plots", false);
  auto image = [&](const std::string& file, const std::string& alt) {
    return plots ? fmt::format("\n![{}]({})\n", alt, file) : std::string();
  };
  std::string s = fmt::format("# tpusim demo: {} on {}, architecture {} at {} MHz\n\n",
                              r["model"].get<std::string>(), r["dataset"].get<std::string>(),
                              r["arch"].get<std::string>(), r["clock_mhz"].get<double>());
  s += fmt::format(
      "FP32 model: `{}` ({} epochs). Every accuracy is top-1 on the first {} test images. "
      "Total time {:.0f} s.\n\n",
      r["fp32_dir"].get<std::string>(), r["fp32_epochs"].dump(), r["test_images"].dump(),
      r["seconds"]["total"].get<double>());
  s += "## Accuracy\n\nFake-quant is the libtorch model with quantizers; the integer reference is the "
       "compiler's "
       "golden interpreter of the exported ONNX; the simulator runs the compiled program.\n\n" +
       accuracy_table(r) + image("accuracy.png", "accuracy");
  const std::string layers = layers_table(r, layer_cell);
  if (!layers.empty()) {
    int64_t n = 0;
    for (const json& v : r["variants"]) n = std::max<int64_t>(n, v.value("compare_images", int64_t{0}));
    s += fmt::format(
             "\n## FP32 vs quantized, layer by layer\n\nCosine similarity / SQNR (dB) of each layer's "
             "quantized output (integer reference, dequantized) against the FP32 model's, over {} test "
             "images (`tpusim compare`). QAT fine-tunes the weights, so its rows measure the "
             "distance from the original FP32 model, drift included, not rounding alone.\n\n",
             n) +
         layers + image("layers.png", "per-layer SQNR and cosine");
  }
  if (any_attribution(r))
    s += "\n## Where each layer's error comes from\n\nThe largest part of each layer's error energy, by "
         "ablation in an emulation of the layer on FP32 inputs with each source of error switched on alone "
         "(`tpusim compare --attribute`, docs/compare.md \"Attribution\"): weight rounding, clipping and "
         "update (QAT), bias, input rounding and clipping, requant (the output's rounding), multiplier, "
         "output clipping, their interaction, and upstream (what the inputs bring).\n\n" +
         layers_table(r, attribution_cell) + image("attribution.png", "per-layer error attribution");
  s += "\n## On the accelerator\n\nPer image, timed simulation, means over the test images.\n\n" +
       perf_table(r) + image("perf.png", "latency, utilization, DDR traffic");
  s += "\n## Engine timeline\n\nThe first test image's run; open a trace in https://ui.perfetto.dev.\n\n";
  for (const json& v : r["variants"])
    if (v.contains("trace"))
      s += fmt::format("- {}: `{}`{}", v["label"].get<std::string>(), v["trace"].get<std::string>(),
                       image("timeline_" + v["name"].get<std::string>() + ".png",
                             "timeline " + v["name"].get<std::string>()));
  s += "\n## Time (seconds)\n\n```\n" + r["seconds"].dump(1) + "\n```\n";
  return s;
}

}  // namespace tpusim::workflow
