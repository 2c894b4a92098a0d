// The accelerator half of `tpusim demo`, for one quantized variant: compile, the test set through
// the simulator (timed) and through the integer reference (at the same time, on the other
// cores), bit-exactness of every output, and the per-layer FP32-vs-quantized comparison.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <future>
#include <thread>

#include "base/file_io.h"
#include "compiler/backend.h"
#include "compiler/compare.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "sim/trace.h"
#include "workflow/demo_steps.h"
#include "workflow/eval_report.h"
#include "workflow/intref_eval.h"
#include "workflow/sim_eval.h"

namespace tpusim::workflow {

namespace {

// The first n test images as the float32 [n, C, H, W] array the model takes (pixels / 255).
NpyArray image_batch(const models::ImageSet& set, int64_t n) {
  NpyArray a;
  a.type = NpyType::F32;
  a.shape = {n, set.channels, set.height, set.width};
  a.data.resize(static_cast<size_t>(n * set.image_size()) * sizeof(float));
  for (int64_t i = 0; i < n * set.image_size(); ++i) {
    const float v = static_cast<float>(set.pixels[static_cast<size_t>(i)]) / 255.0f;
    std::memcpy(a.data.data() + i * static_cast<int64_t>(sizeof(float)), &v, sizeof(float));
  }
  return a;
}

nlohmann::json layers_json(const std::vector<compiler::LayerError>& layers) {
  nlohmann::json j = nlohmann::json::array();
  for (const compiler::LayerError& l : layers)
    j.push_back({{"name", l.name},
                 {"float_name", l.float_name},
                 {"op", l.op},
                 {"cosine", l.cosine},
                 // JSON has no infinity: an exact layer's SQNR is null.
                 {"sqnr_db", std::isfinite(l.sqnr_db) ? nlohmann::json(l.sqnr_db) : nlohmann::json()},
                 {"max_abs_err", l.max_abs_err},
                 {"fp32_max_abs", l.fp32_max_abs}});
  for (size_t i = 0; i < layers.size(); ++i)  // the split of its error (docs/compare.md, "Attribution")
    if (layers[i].attribution) j[i]["attribution"] = layers[i].attribution->to_json();
  return j;
}

}  // namespace

nlohmann::json demo_accelerate(const DemoOptions& o, const VariantSpec& v, const std::string& fp32_dir,
                               const Arch& arch) {
  const std::string dir = o.out + "/" + v.name;
  const std::string onnx = dir + "/model.onnx", tpu = dir + "/model.tpu";
  compiler::CompileReport schedule;
  const Program p =
      compiler::compile_int_graph(compiler::lower_qdq(compiler::import_onnx(onnx)), arch, &schedule);
  save_program(p, tpu);
  write_file_atomic(dir + "/schedule.json", schedule.to_json().dump(1) + "\n");
  spdlog::info("demo: {}: compiled for {} -> {} ({} GDMA + {} TIU instructions)", v.label, arch.name, tpu,
               p.gdma.size(), p.tiu.size());

  models::ImageSet test = models::load_dataset(o.dataset, models::Split::Test);
  if (o.test_limit > 0) test = test.head(o.test_limit);
  // The integer reference alongside the simulator (one SystemC thread), on every core: it costs
  // ~3x the simulator's CPU time, so it should not wait for the simulator to finish.
  const int cores = o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  std::future<IntRefResult> ref = std::async(
      std::launch::async, [&] { return int_reference_eval(onnx, test, 0, false, std::max(1, cores)); });
  SimEvalOptions so;
  so.keep_first_events = true;
  so.progress = o.progress;
  spdlog::info("demo: {}: {} test images through the simulator (integer reference alongside)", v.label,
               test.count);
  const SimEvalResult sim = sim_eval(p, arch, test, so, tpu);
  const IntRefResult r = ref.get();
  const int64_t identical = identical_rows(sim.outputs, r.outputs, sim.classes);
  write_file_atomic(dir + "/trace.json", sim::chrome_trace(p, arch, sim.first).dump() + "\n");
  const EvalReport er{tpu, o.dataset + " test", test.source, arch, &sim, &r, identical};
  write_file_atomic(dir + "/eval.json", eval_json(er).dump(1) + "\n");
  spdlog::info("demo: {}: simulator top-1 {:.2f}%, integer reference {:.2f}%, outputs identical on {}/{}",
               v.label, 100 * sim.top1, 100 * r.top1, identical, sim.images);

  const int64_t n = std::min(o.compare_images, test.count);
  compiler::CompareInputs ci;
  ci.model = onnx;
  ci.fp32_model = fp32_dir + "/model.onnx";
  ci.input = image_batch(test, n);
  const compiler::CompareRun run = compiler::run_compare(ci);
  compiler::CompareResult cmp = compiler::compare_layers(run.graph, run.ref.values, run.fp32);
  compiler::require_matches(cmp, run.fp32_side);
  compiler::attribute_compare(cmp, run);
  const std::vector<compiler::LayerError>& layers = cmp.layers;
  return {{"accuracy", {{"int_ref", r.top1}, {"sim", sim.top1}}},
          {"sim_vs_int_ref", {{"images", sim.images}, {"identical_outputs", identical}}},
          {"perf", per_image_perf(sim, arch)},
          {"compare_images", n},
          {"layers", layers_json(layers)},
          {"trace", v.name + "/trace.json"}};
}

}  // namespace tpusim::workflow
