// The tpusim subcommands. Each cli/cmd_*.cpp registers its subcommand(s) on the root app through one
// add_* function and returns what to run once the command line is parsed; main.cpp only lists them.
// A command reports failure by throwing tpusim::Error (main prints "error: <message>", exit 1).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <initializer_list>
#include <string>

#include "workflow/quantize_model.h"

namespace tpusim::cli {

// An option that has no effect without `needed` (or in this combination): one error line naming
// it, exit 1 — as every tpusim refusal, rather than CLI11's usage error (exit 2). calib_options.cpp.
void refuse_without(const CLI::Option* opt, const CLI::Option* needed, const std::string& why);

// --calib, --calib-method, --bits, --calib-limit into `o` (compile, compare, infer).
struct CalibCli {
  CLI::Option *calib = nullptr, *method = nullptr, *bits = nullptr, *limit = nullptr;
  // Refuses the calibration options (and `more`) when --calib is not given.
  void refuse_unused(std::initializer_list<const CLI::Option*> more = {}) const;
};
CalibCli add_calib_options(CLI::App* sub, workflow::CalibOptions& o, const std::string& calib_help);

struct Command {
  CLI::App* app;              // the subcommand; run() is called when it was given
  std::function<void()> run;  // options live in the closure
};

Command add_asm(CLI::App& root);      // tpusim asm IN.s -o OUT.tpu
Command add_disasm(CLI::App& root);   // tpusim disasm IN.tpu [-o OUT.s]
Command add_info(CLI::App& root);     // tpusim info IN.tpu [--json]
Command add_doc(CLI::App& root);      // tpusim doc isa [--update FILE]
Command add_arch(CLI::App& root);     // tpusim arch list | arch show NAME|FILE
Command add_run(CLI::App& root);      // tpusim run IN.tpu -i x.npy -o DIR [--stats/--trace/--vcd ...]
Command add_compile(CLI::App& root);  // tpusim compile MODEL.onnx --arch A -o OUT.tpu [--report R.json]
Command add_eval(CLI::App& root);     // tpusim eval MODEL.tpu --dataset fashion-mnist [--limit N]
Command add_compare(CLI::App& root);  // tpusim compare MODEL.onnx --input x.npy [--arch A] [--csv F]
Command add_infer(CLI::App& root);    // tpusim infer MODEL.onnx -i x.npy -o OUT.npz [--engine fp32|int|sim]
Command add_dse(CLI::App& root);      // tpusim dse --model M.onnx --sweep k=v,... --out DIR | dse merge
// The QAT toolchain's commands: registered in every build; they open libtpusim_train.so when run.
Command add_train(CLI::App& root);    // tpusim train --model lenet5 --epochs N -o DIR
Command add_ptq(CLI::App& root);      // tpusim ptq --from DIR --bits w8a8 --calib kl -o DIR2
Command add_qat(CLI::App& root);      // tpusim qat --from DIR --bits w4a4 --algo lsq --epochs N -o DIR3
Command add_demo(CLI::App& root);     // tpusim demo [-o DIR]: the main job end to end
Command add_mixprec(CLI::App& root);  // tpusim mixprec --from DIR --arch A --candidates w8a8,w4a4 -o DIR2

}  // namespace tpusim::cli
