// tpusim infer: a model on NumPy inputs through the FP32 interpreter, the integer reference or the
// simulator, every graph output written by name to an .npz (workflow/infer.h; docs/cli.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "base/error.h"
#include "base/file_io.h"
#include "cli/command.h"
#include "compiler/tensor_io.h"
#include "workflow/infer.h"

namespace tpusim::cli {

Command add_infer(CLI::App& root) {
  auto o = std::make_shared<workflow::InferOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* sub = root.add_subcommand("infer",
                                      "Run a model on .npy/.npz inputs (fp32 interpreter, integer reference "
                                      "or simulator); write its outputs");
  sub->add_option("model", o->model, "ONNX model (FP32 or QDQ)")->required();
  sub->add_option("-i,--input", o->inputs,
                  "Inputs: PATH.npy (in input order), NAME=PATH.npy, or one .npz with a member per input")
      ->required();
  sub->add_option("-o,--output", *out, "Write every graph output, by name, to this .npz")->required();
  sub->add_option("--engine", o->engine, "fp32, int (integer reference) or sim (simulator)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "int", "sim"}));
  CLI::Option* arch = sub->add_option("--arch", o->arch, "With --engine sim: architecture preset or YAML");
  const CalibCli calib =
      add_calib_options(sub, o->calib, "FP32 model on int/sim: calibration inputs, float32 .npy");
  return {
      sub, [o, out, arch, calib] {
        if (arch->count() && o->engine != "sim")
          throw Error(fmt::format(
              "--arch has no effect with --engine {} (only the simulator has an architecture)", o->engine));
        if (calib.calib->count() && o->engine == "fp32")
          throw Error(
              "--calib has no effect with --engine fp32 (the FP32 interpreter runs the model as it is)");
        calib.refuse_unused();
        check_output_path(*out);
        const workflow::InferResult r = workflow::infer(*o);
        compiler::save_tensors_npz(r.outputs, *out);
        std::string line =
            fmt::format("{}: {} output{} of {} run{} ({}) -> {}", o->model, r.outputs.size(),
                        r.outputs.size() == 1 ? "" : "s", r.runs, r.runs == 1 ? "" : "s", o->engine, *out);
        if (o->engine == "sim") line += fmt::format(", {} cycles", r.cycles);
        spdlog::info("{}", line);
      }};
}

}  // namespace tpusim::cli
