// tpusim compare: per-layer FP32-vs-quantized error of a model on .npy images (docs/compare.md).
// The comparison is compiler/compare.h; this file adds options, the optional simulator run
// (--arch: every intermediate tensor read back from DDR) and the outputs.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>

#include "base/error.h"
#include "base/file_io.h"
#include "cli/command.h"
#include "compiler/backend.h"
#include "compiler/batch_rows.h"
#include "compiler/compare.h"
#include "sim/simulator.h"

namespace tpusim::cli {

namespace {

// Compiles the lowered graph for `arch`, runs it once on the reference's integer inputs and
// measures the simulated tensors; each layer also records whether they equal run_int's.
compiler::CompareResult simulated(const compiler::CompareRun& run, const Arch& arch, bool timed) {
  const compiler::IntGraph& g = run.graph;
  // Runs a program once per run of the graph (a fixed-batch model over more images: batch_rows.h)
  // and reads `names`, concatenated over the runs; returns the cycles.
  auto simulate = [&](const Program& p, const compiler::CompileReport& rep,
                      const std::vector<std::string>& names,
                      std::map<std::string, std::vector<int32_t>>& got) {
    uint64_t cycles = 0;
    for (int64_t k = 0; k < run.runs; ++k) {
      sim::DeviceMemory mem = sim::prepare_memory(p, arch);
      for (const std::string& in : g.inputs) {
        const compiler::IntValue& all = run.ref.values.at(in);
        sim::write_tensor(mem, compiler::tensor_desc(g, rep, in),
                          compiler::slice_rows(all, k, g.tensor(in).shape).data);
      }
      sim::RunOptions opt;
      opt.functional = !timed;
      opt.keep_events = false;
      cycles += sim::run(p, arch, mem, opt).stats.total_cycles;
      for (const std::string& name : names) {
        const std::vector<int32_t> v = sim::read_tensor(mem, compiler::tensor_desc(g, rep, name));
        got[name].insert(got[name].end(), v.begin(), v.end());
      }
    }
    return cycles;
  };
  // Every layer is measured with the per-op schedule, which writes each output to DDR; the graph
  // outputs also with the default schedule (which keeps some intermediates in LMEM only), and its
  // cycles are the ones reported.
  std::vector<std::string> all;
  for (const compiler::IOp& op : g.ops) all.push_back(op.output);
  compiler::IntValues values = run.ref.values;  // shapes, scales and zero points; data replaced
  compiler::CompileReport rep0, rep;
  std::map<std::string, std::vector<int32_t>> simulated, outputs;
  uint64_t cycles = simulate(compiler::compile_int_graph(g, arch, &rep0, 0), rep0, all, simulated);
  if (compiler::kDefaultOpt != 0)
    cycles = simulate(compiler::compile_int_graph(g, arch, &rep), rep, g.outputs, outputs);
  if (timed) spdlog::info("simulated on {}: {} cycles ({} run(s))", arch.name, cycles, run.runs);
  std::map<std::string, bool> equal;
  for (const compiler::IOp& op : g.ops) {
    compiler::IntValue& q = values.at(op.output);
    equal[op.output] = simulated.at(op.output) == q.data;
    if (outputs.count(op.output)) equal[op.output] = equal[op.output] && outputs.at(op.output) == q.data;
    q.data = std::move(simulated.at(op.output));
  }
  compiler::CompareResult r = compiler::compare_layers(g, values, run.fp32);
  size_t differ = 0;
  for (compiler::LayerError& e : r.layers) {
    e.sim_equals_ref = e.op == "input" || equal.at(e.name);  // inputs are written, not computed
    differ += !*e.sim_equals_ref;
  }
  if (differ) spdlog::warn("{} layer(s) of the simulator differ from the integer reference", differ);
  return r;
}

}  // namespace

Command add_compare(CLI::App& root) {
  struct Opts {
    std::string model, fp32, input, arch, csv, json;
    workflow::CalibOptions calib;
    bool timed = false, attribute = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = root.add_subcommand(
      "compare", "Per-layer FP32-vs-quantized error (cosine, SQNR, max abs error) of a model on .npy images");
  sub->add_option("model", o->model, "QDQ ONNX model, or FP32 with --calib")->required();
  sub->add_option(
         "-i,--input", o->input,
         "Images: float32 .npy [N, C, H, W] (one batch of N; a model with a fixed batch b runs b at a time)")
      ->required();
  sub->add_option(
      "--fp32", o->fp32,
      "FP32 ONNX model to compare with, tensors matched by name (default: the model with its "
      "activation QuantizeLinear/DequantizeLinear pairs removed, or the FP32 model with --calib)");
  CLI::Option* arch =
      sub->add_option("--arch", o->arch,
                      "Compile for this architecture (preset or YAML) and measure the simulator's tensors");
  CLI::Option* timed =
      sub->add_flag("--timed", o->timed, "With --arch: timed (SystemC) simulation instead of functional");
  sub->add_flag(
      "--attribute", o->attribute,
      "Split each layer's error into weight/input rounding and clipping, bias, requant, multiplier, "
      "output clipping and upstream by ablation (docs/compare.md, \"Attribution\")");
  sub->add_option("--csv", o->csv, "Write the table as CSV");
  sub->add_option("--json", o->json, "Write the table as JSON");
  const CalibCli calib =
      add_calib_options(sub, o->calib, "FP32 model: calibration inputs, float32 .npy [N, ...input shape]");
  return {
      sub, [o, arch, timed, calib] {
        refuse_without(timed, arch, "the simulator runs only with --arch");
        calib.refuse_unused();
        std::optional<Arch> arch;
        if (!o->arch.empty()) arch = resolve_arch(o->arch);  // a bad --arch fails before any work
        for (const std::string* f : {&o->model, &o->fp32})   // before the images are loaded
          if (!f->empty() && !std::filesystem::is_regular_file(*f))
            throw Error(fmt::format("{}: cannot read: {}", *f,
                                    std::filesystem::is_directory(*f) ? "is a directory" : "no such file"));
        for (const std::string* f : {&o->csv, &o->json})
          if (!f->empty()) check_output_path(*f);
        compiler::CompareInputs in;
        in.model = o->model;
        in.fp32_model = o->fp32;
        in.input = load_npy(o->input);
        in.input_source = o->input;
        if (!o->calib.calib.empty()) {
          in.calib_config = workflow::calib_config(o->calib);
          in.calib = load_npy(o->calib.calib);
        }
        const compiler::CompareRun run = compiler::run_compare(in);
        compiler::CompareResult r = arch ? simulated(run, *arch, o->timed)
                                         : compiler::compare_layers(run.graph, run.ref.values, run.fp32);
        compiler::require_matches(r, run.fp32_side);
        if (o->attribute) compiler::attribute_compare(r, run);
        const std::string side = arch ? fmt::format("simulator (arch {})", arch->name) : "integer reference";
        if (!o->csv.empty()) write_file_atomic(o->csv, compiler::compare_csv(r));
        if (!o->json.empty()) {
          nlohmann::json j = compiler::compare_json(r);
          j["model"] = o->model, j["fp32"] = run.fp32_side, j["images"] = run.images, j["quantized"] = side;
          write_file_atomic(o->json, j.dump(2) + "\n");
        }
        write_stdout(compiler::compare_table(
            r, fmt::format("{}: {} image(s), FP32 ({}) vs {}", o->model, run.images, run.fp32_side, side)));
      }};
}

}  // namespace tpusim::cli
