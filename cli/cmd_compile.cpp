// tpusim compile: a QDQ ONNX model -> program.tpu for an architecture (docs/compiler.md, "Back
// end"): import, quantized lowering, tiling, schedule and code generation. An FP32 model is first
// calibrated on --calib data into the QDQ form (compiler/calibrate.h).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file_io.h"
#include "base/npy.h"
#include "cli/command.h"
#include "compiler/backend.h"
#include "compiler/calibrate.h"
#include "compiler/lower.h"
#include "compiler/lower_report.h"
#include "compiler/onnx_export.h"
#include "compiler/onnx_import.h"
#include "sim/simulator.h"
#include "workflow/quantize_model.h"

namespace tpusim::cli {

Command add_compile(CLI::App& root) {
  struct Opts {
    std::string model, arch = "default", out, report, save_qdq;
    workflow::CalibOptions calib;
    bool dump_ir = false, simulate = false;
    int opt = compiler::kDefaultOpt;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub =
      root.add_subcommand("compile", "Compile a QDQ (or calibrated FP32) ONNX model to a .tpu program");
  sub->add_option("model", o->model, "QDQ ONNX model, or FP32 with --calib")->required();
  sub->add_option("--arch", o->arch, "Architecture preset or YAML file")->capture_default_str();
  sub->add_option("-o,--output", o->out, "Program file to write (.tpu)")->required();
  sub->add_option("--report", o->report, "Write the per-layer schedule report (JSON)");
  sub->add_flag("--simulate", o->simulate,
                "Run the program once, timed, on zero inputs and add simulated cycles and efficiency per "
                "layer to the report");
  sub->add_option(
         "--opt", o->opt,
         "Schedule: 0 = every op tiled alone through DDR; 1 = ops that fit LMEM keep activations there "
         "and prefetch the next ops' constants, layer groups chosen greedily; 2 = 1 with the layer groups "
         "and resident layernorm/softmax searched by the cycle model, each tile's constant loads merged "
         "into one, attention's head rearranges folded into its matmuls (docs/compiler.md, \"Schedules\")")
      ->check(CLI::Range(0, compiler::kMaxOpt))
      ->capture_default_str();
  sub->add_flag("--dump-ir", o->dump_ir, "Print the lowered integer graph (JSON) on stdout");
  const CalibCli calib =
      add_calib_options(sub, o->calib, "FP32 model: calibration inputs, float32 .npy [N, ...input shape]");
  CLI::Option* save =
      sub->add_option("--save-qdq", o->save_qdq,
                      "With --calib: write the calibrated QDQ model (ONNX) the program is built from");
  return {sub, [o, calib, save] {
            // Calibration options without calibration would be silently ignored: refuse them.
            calib.refuse_unused({save});
            check_output_path(o->out);
            if (!o->report.empty()) check_output_path(o->report);
            if (!o->save_qdq.empty()) check_output_path(o->save_qdq);
            const Arch arch = resolve_arch(o->arch);
            compiler::IntGraph ig;
            {  // the QDQ graph (its integers as int64) is gone before code generation
              const compiler::Graph g =
                  workflow::quantized_graph(compiler::import_onnx(o->model), o->model, o->calib);
              ig = compiler::lower_qdq(g);
              if (!o->save_qdq.empty()) {  // after lowering succeeded: a model the program really comes from
                compiler::save_onnx(g, o->save_qdq);
                spdlog::info("wrote {} (the calibrated QDQ model)", o->save_qdq);
              }
            }
            if (o->dump_ir)
              write_stdout(compiler::report_json(ig, compiler::lowering_report(ig)).dump(2) + "\n");
            compiler::CompileReport rep;
            const Program p = compiler::compile_int_graph(ig, arch, &rep, o->opt);
            save_program(p, o->out);
            if (o->simulate) {
              sim::DeviceMemory mem = sim::prepare_memory(p, arch);
              for (const TensorDesc& d : p.inputs)
                sim::write_tensor(mem, d, std::vector<int32_t>(d.elements(), d.zero_point));
              const sim::RunResult run = sim::run(p, arch, mem, {});
              std::vector<compiler::InstrTime> times;
              for (const sim::Event& ev : run.events)
                times.push_back({ev.engine, ev.index, ev.start, ev.end});
              compiler::fill_sim_cycles(rep, times);
              spdlog::info("simulated: {} cycles", run.stats.total_cycles);
            }
            if (!o->report.empty()) write_file_atomic(o->report, rep.to_json().dump(2) + "\n");
            spdlog::info("{}: {} ops -> {} GDMA + {} TIU instructions for {}, {} bytes of DDR", o->model,
                         ig.ops.size(), p.gdma.size(), p.tiu.size(), arch.name, rep.ddr_bytes);
          }};
}

}  // namespace tpusim::cli
