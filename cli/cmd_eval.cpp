// tpusim eval: top-1 accuracy of a compiled program through the simulator on a dataset's images,
// optionally checked bit for bit against the integer reference of its ONNX model (docs/cli.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "base/error.h"
#include "base/file_io.h"
#include "cli/command.h"
#include "sim/host_io.h"
#include "sim/trace.h"
#include "workflow/eval_report.h"
#include "workflow/intref_eval.h"
#include "workflow/sim_eval.h"
#include "workflow/sim_eval_jobs.h"
#include "workflow/worker_pool.h"

namespace tpusim::cli {

Command add_eval(CLI::App& root) {
  struct Opts {
    std::string program, dataset = "fashion-mnist", split = "test", arch, reference, json, trace, range,
                         part_out;
    int64_t limit = 0;
    int threads = 0;
    unsigned jobs = 0;
    bool functional = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub =
      root.add_subcommand("eval", "Top-1 accuracy of a program through the simulator on a dataset");
  sub->add_option("program", o->program, "Program (.tpu) of an image classifier")->required();
  sub->add_option("--dataset", o->dataset, "fashion-mnist, fashion-mnist:DIR, mnist:DIR or cifar10:DIR")
      ->capture_default_str();
  sub->add_option("--split", o->split, "test or train")
      ->capture_default_str()
      ->check(CLI::IsMember({"test", "train"}));
  sub->add_option("--limit", o->limit, "Evaluate the first N images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--arch", o->arch, "Architecture: preset name or YAML file (default: the program's)");
  CLI::Option* fn = sub->add_flag("--functional", o->functional, "Untimed functional mode (no cycles)");
  sub->add_option("--reference", o->reference,
                  "The program's QDQ ONNX model: also run its integer reference on the same images and "
                  "fail unless every output is identical, bit for bit");
  sub->add_option("--threads", o->threads, "Integer-reference threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-j,--jobs", o->jobs,
                  "Simulator processes, each on a contiguous range of the images (0 = the CPUs this "
                  "process may use); results and statistics are the same whatever the number");
  // A worker of --jobs (workflow/sim_eval_jobs.h): images B..E-1 only, the part written as JSON.
  sub->add_option("--range", o->range)->group("");
  sub->add_option("--part-out", o->part_out)->group("")->needs(sub->get_option("--range"));
  sub->add_option("--json", o->json, "Write the results (accuracy, cycles, predictions) as JSON");
  sub->add_option("--trace", o->trace, "Write a Chrome trace (Perfetto) of the first image's run")
      ->excludes(fn);
  return {
      sub, [o] {
        const Program p = load_program(o->program);
        const Arch arch = sim::arch_for_program(p, o->arch);
        const models::ImageSet set = models::load_dataset(
            o->dataset, o->split == "train" ? models::Split::Train : models::Split::Test);
        const bool progress = spdlog::default_logger()->should_log(spdlog::level::info);
        workflow::SimEvalOptions so;
        so.limit = o->limit;
        so.functional = o->functional;
        so.keep_first_events = !o->trace.empty();
        so.progress = progress;
        if (!o->part_out.empty()) {
          std::tie(so.begin, so.end) = workflow::parse_range(o->range);
          so.progress = false;
          const workflow::SimEvalResult part = workflow::sim_eval(p, arch, set, so, o->program);
          write_file_atomic(o->part_out, workflow::sim_eval_part_json(part).dump() + "\n");
          return;
        }
        std::vector<std::string> worker{"-q",        "eval",     o->program,
                                        "--dataset", o->dataset, "--split",
                                        o->split,    "--limit",  std::to_string(o->limit),
                                        "--jobs",    "1"};
        if (!o->arch.empty()) worker.insert(worker.end(), {"--arch", o->arch});
        if (o->functional) worker.push_back("--functional");
        const unsigned jobs = o->jobs > 0 ? o->jobs : workflow::usable_cpus();
        const workflow::SimEvalResult r = workflow::sim_eval_jobs(p, arch, set, so, o->program, jobs, worker);
        workflow::EvalReport rep{o->program, o->dataset + " " + o->split, set.source, arch, &r, nullptr, 0};
        workflow::IntRefResult ref;
        if (!o->reference.empty()) {
          const int threads =
              o->threads > 0 ? o->threads : static_cast<int>(std::thread::hardware_concurrency());
          ref = workflow::int_reference_eval(o->reference, set, r.images, progress, threads);
          rep.reference = &ref;
          rep.identical = workflow::identical_rows(r.outputs, ref.outputs, r.classes);
        }
        if (!o->json.empty()) {
          write_file_atomic(o->json, workflow::eval_json(rep).dump(1) + "\n");
          spdlog::info("wrote {}", o->json);
        }
        if (!o->trace.empty()) {
          write_file_atomic(o->trace, sim::chrome_trace(p, arch, r.first).dump() + "\n");
          spdlog::info("wrote {} (first image; open in ui.perfetto.dev)", o->trace);
        }
        write_stdout(workflow::eval_text(rep));
        if (rep.reference && rep.identical != r.images)
          throw Error(
              fmt::format("{}: simulator outputs differ from the integer reference of {} on {} of {} images",
                          o->program, o->reference, r.images - rep.identical, r.images));
      }};
}

}  // namespace tpusim::cli
