#include "workflow/demo.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "base/error.h"
#include "base/file_io.h"
#include "workflow/demo_steps.h"
#include "workflow/python_script.h"
#include "workflow/qat_jobs.h"

namespace tpusim::workflow {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs the plot script; a failure is a warning (the numbers are in the report already).
bool make_plots(const std::string& report) { return run_python_script("demo_plots.py", {report}, "demo"); }

}  // namespace

void run_demo(const DemoOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const Arch arch = resolve_arch(o.arch);
  const std::vector<std::string>& names =
      o.variants.empty() ? demo_variant_names(o.from.empty() ? o.model : trained_model_name(o.from))
                         : o.variants;
  std::vector<const VariantSpec*> specs;
  for (const std::string& n : names) specs.push_back(&variant_spec(n));  // unknown names fail before training
  fs::create_directories(o.out);

  nlohmann::json stages = nlohmann::json::object();
  auto t = std::chrono::steady_clock::now();
  const std::string fp32_dir = demo_fp32(o);
  const nlohmann::json fp32 = nlohmann::json::parse(read_file_text(fp32_dir + "/report.json"));
  stages["fp32"] = seconds_since(t);
  nlohmann::json variants = nlohmann::json::array();
  variants.push_back({{"name", "fp32"},
                      {"label", "FP32"},
                      {"bits", "fp32"},
                      {"accuracy", {{"fp32", fp32["accuracy"]["fp32"]}}}});
  for (const VariantSpec* v : specs) {
    t = std::chrono::steady_clock::now();
    const nlohmann::json q = demo_quantize(o, *v, fp32_dir);
    const double quantize_s = seconds_since(t);
    t = std::chrono::steady_clock::now();
    nlohmann::json e = demo_accelerate(o, *v, fp32_dir, arch);
    e["accuracy"]["fp32"] = q["accuracy"]["fp32"];
    e["accuracy"]["fake_quant"] = q["accuracy"]["fake_quant"];
    e["name"] = v->name;
    e["label"] = v->label;
    e["bits"] = v->bits;
    e["method"] = v->method;
    e["kind"] = v->kind;
    variants.push_back(e);
    stages[v->name] = {{"quantize", quantize_s}, {"accelerate", seconds_since(t)}};
  }
  nlohmann::json report = {
      {"model", fp32["model"]},
      {"dataset", o.dataset},
      {"arch", arch.name},
      {"clock_mhz", arch.clock_mhz},
      {"test_images", variants.size() > 1 ? variants[1]["sim_vs_int_ref"]["images"] : nlohmann::json(0)},
      {"fp32_dir", fp32_dir},
      {"fp32_epochs", fp32["options"]["epochs"]},
      {"variants", variants},
      {"seconds", stages}};
  const std::string json_path = o.out + "/report.json";
  report["seconds"]["total"] = seconds_since(t0);
  write_file_atomic(json_path, report.dump(1) + "\n");
  report["plots"] = o.plots && make_plots(json_path);
  report["seconds"]["total"] = seconds_since(t0);
  write_file_atomic(json_path, report.dump(1) + "\n");
  const std::string md = demo_markdown(report);
  write_file_atomic(o.out + "/report.md", md);
  write_stdout(md);
  spdlog::info("demo: wrote {}/report.md and report.json in {:.0f} s", o.out, seconds_since(t0));
}

}  // namespace tpusim::workflow
