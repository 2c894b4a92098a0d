// tpusim run: simulate a program on .npy inputs (docs/cli.md). The host-side work (quantizing
// inputs, batching, output files, batch statistics) is sim/host_io.h; this file is options,
// progress and printing.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <tuple>

#include "base/error.h"
#include "base/file_io.h"
#include "base/progress.h"
#include "cli/command.h"
#include "sim/host_io.h"
#include "sim/trace.h"
#include "workflow/run_batch_jobs.h"
#include "workflow/worker_pool.h"

namespace tpusim::cli {

namespace {

// A multi-line error (a deadlock and its state dump) as one "error:" line followed by indented
// lines: main prints "error: " + what(), so only the first line carries the prefix.
[[noreturn]] void rethrow_indented(const Error& e) {
  std::string msg = e.what();
  for (size_t at = msg.find('\n'); at != std::string::npos; at = msg.find('\n', at + 3))
    msg.insert(at + 1, "  ");
  throw Error(msg);
}

std::string shape_text(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

}  // namespace

Command add_run(CLI::App& root) {
  struct Opts {
    std::string program, arch, out_dir, stats, trace, vcd, range, part_out;
    std::vector<std::string> inputs;
    bool functional = false, dequantize = false;
    unsigned jobs = 0;
    uint64_t max_cycles = sim::RunOptions{}.max_cycles;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub =
      root.add_subcommand("run", "Simulate a program on .npy inputs; write outputs, stats, traces");
  sub->add_option("program", o->program, "Program (.tpu)")->required();
  sub->add_option(
      "-i,--input", o->inputs,
      "Input .npy, as NAME=PATH or PATH (unnamed ones fill the program's inputs in order); "
      "float32 is quantized, integers are taken as quantized; a leading batch dimension runs a batch");
  CLI::Option* out = sub->add_option("-o,--output-dir", o->out_dir,
                                     "Write each output as DIR/NAME.npy (created if missing)");
  CLI::Option* fn =
      sub->add_flag("--functional", o->functional, "Untimed functional mode (no cycles, no traces)");
  CLI::Option* deq = sub->add_flag("--dequantize", o->dequantize,
                                   "With -o: also write DIR/NAME.f32.npy, the float32 outputs");
  sub->add_option("--stats", o->stats, "Write statistics as JSON (stats.json)");
  CLI::Option* trace =
      sub->add_option("--trace", o->trace, "Write a Chrome trace (Perfetto) of the first run");
  CLI::Option* vcd =
      sub->add_option("--vcd", o->vcd, "Write a VCD waveform of engine activity in the first run");
  sub->add_option("--arch", o->arch, "Architecture: preset name or YAML file (default: the program's)");
  sub->add_option("--max-cycles", o->max_cycles, "Watchdog: stop a run whose simulated time passes this")
      ->check(CLI::PositiveNumber);
  sub->add_option("-j,--jobs", o->jobs,
                  "Simulator processes for a batch, each on a contiguous range of its runs (0 = the CPUs "
                  "this process may use); outputs and statistics are the same whatever the number");
  // A worker of --jobs (workflow/run_batch_jobs.h): runs B..E-1 only, the part written as JSON.
  sub->add_option("--range", o->range)->group("");
  sub->add_option("--part-out", o->part_out)->group("")->needs(sub->get_option("--range"));
  return {
      sub, [o, out, fn, deq, trace, vcd] {
        // An option with no effect in this combination: one error line, exit 1 (as compile's).
        refuse_without(deq, out, "the dequantized outputs are written next to the integer ones");
        for (const CLI::Option* timing : {trace, vcd})
          if (timing->count() > 0 && fn->count() > 0)
            throw Error(fmt::format("{} has no effect with {} (a functional run has no timing)",
                                    timing->get_name(), fn->get_name()));
        const Program p = load_program(o->program);
        const Arch arch = sim::arch_for_program(p, o->arch);
        const std::vector<sim::HostArray> inputs = sim::load_inputs(p, o->inputs);
        sim::BatchOptions bo;
        bo.run.functional = o->functional;
        bo.run.keep_events = !o->trace.empty() || !o->vcd.empty();
        bo.run.max_cycles = o->max_cycles;
        if (!o->part_out.empty()) {
          std::tie(bo.begin, bo.end) = workflow::parse_range(o->range);
          write_file_atomic(o->part_out,
                            workflow::batch_part_json(sim::run_batch(p, arch, inputs, bo)).dump() + "\n");
          return;
        }
        std::vector<std::string> worker{
            "-q", "run", o->program, "--max-cycles", std::to_string(o->max_cycles), "--jobs", "1"};
        for (const std::string& i : o->inputs) worker.insert(worker.end(), {"-i", i});
        if (!o->arch.empty()) worker.insert(worker.end(), {"--arch", o->arch});
        if (o->functional) worker.push_back("--functional");
        const unsigned jobs = o->jobs > 0 ? o->jobs : workflow::usable_cpus();
        sim::BatchResult r;
        {
          // A batch's progress (base/progress.h); nothing under -q.
          Progress progress(
              "run", "runs", spdlog::default_logger()->should_log(spdlog::level::info),
              ProgressOutput::to_stderr([](const std::string& line) { spdlog::info("{}", line); }));
          bo.progress = [&progress](int64_t done, int64_t total) { progress(done, total); };
          try {
            r = workflow::run_batch_jobs(p, arch, inputs, bo, jobs, worker);
          } catch (const Error& e) {
            rethrow_indented(e);
          }
        }
        // Outputs only after every run succeeded: a failed run writes nothing.
        if (!o->out_dir.empty()) {
          const std::vector<sim::OutputFile> files = sim::output_files(p, r, o->out_dir, o->dequantize);
          sim::write_output_files(files);
          for (const sim::OutputFile& f : files)
            spdlog::info("wrote {} {}", f.path, shape_text(f.array.shape));
        }
        if (!o->stats.empty()) {
          write_file_atomic(o->stats, sim::batch_stats_json(r).dump(2) + "\n");
          spdlog::info("wrote {}", o->stats);
        }
        if (!o->trace.empty()) {
          write_file_atomic(o->trace, sim::chrome_trace(p, arch, r.first).dump() + "\n");
          spdlog::info("wrote {} (first run; open in ui.perfetto.dev)", o->trace);
        }
        if (!o->vcd.empty()) {
          write_file_atomic(o->vcd, sim::vcd(arch, r.first));
          spdlog::info("wrote {} (first run)", o->vcd);
        }
        std::string out = fmt::format(
            "program {}: {}\n", o->program,
            r.runs == 1 ? std::string("1 run") : fmt::format("{} runs back to back, figures summed", r.runs));
        out += sim::summary(r.total);
        if (r.runs > 1 && !o->functional) {
          const uint64_t per_run = r.total.total_cycles / static_cast<uint64_t>(r.runs);
          out += fmt::format("per run {:>12} cycles  {:>12.3f} us (mean of {} runs back to back)\n", per_run,
                             arch.clock_mhz > 0 ? double(per_run) / arch.clock_mhz : 0.0, r.runs);
        }
        write_stdout(out);
      }};
}

}  // namespace tpusim::cli
