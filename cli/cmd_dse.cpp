// tpusim dse: design-space exploration (docs/dse.md). `dse` sweeps architecture parameters over
// one model, `dse merge` joins shards, `dse point` is the worker the sweep starts per chunk of points.
#include <spdlog/spdlog.h>

#include <memory>

#include "base/error.h"
#include "base/file_io.h"
#include "cli/command.h"
#include "workflow/dse_run.h"

namespace tpusim::cli {

namespace dse = workflow::dse;

Command add_dse(CLI::App& root) {
  auto o = std::make_shared<dse::SweepOptions>();
  auto po = std::make_shared<dse::PointOptions>();
  auto mo = std::make_shared<std::pair<std::vector<std::string>, std::string>>();
  CLI::App* sub = root.add_subcommand(
      "dse", "Design-space exploration: compile and simulate a model over a sweep of architectures");
  sub->require_subcommand(0, 1);
  sub->add_option("--model", o->model, "QDQ ONNX model (required, except for `dse merge`)");
  sub->add_option(
      "--sweep", o->sweeps,
      "KEY=V1,V2,... (at least one): an architecture key (tpusim arch show default) or lmem_kib; repeat for "
      "more axes");
  sub->add_option("--out", o->out,
                  "Output directory: points/, results.csv, results.json (required, except for `dse merge`)");
  sub->add_option("--arch", o->arch, "Base architecture: preset or YAML file")->capture_default_str();
  sub->add_option("-j,--jobs", o->jobs, "Worker processes (default: the CPUs this process may use)");
  sub->add_option("--shard", o->shard, "K/N: run only points i with i % N == K-1 (K from 1)")
      ->capture_default_str();

  CLI::App* merge =
      sub->add_subcommand("merge", "Merge the point files of shard directories and write results");
  merge->add_option("dirs", mo->first, "Shard output directories")->required();
  merge->add_option("--out", mo->second, "Merged output directory")->required();

  CLI::App* point = sub->add_subcommand("point", "(internal) evaluate one point; started by tpusim dse");
  point->group("");  // hidden from --help: the sweep starts it
  point->add_option("--model", po->model)->required();
  point->add_option("--arch", po->arch);
  point->add_option("--out", po->out)->required();
  point->add_option("--sweep", po->sweeps)->required();
  point->add_option("--points", po->points)->required()->delimiter(',');

  return {sub, [o, po, mo, merge, point] {
            if (merge->parsed()) return write_stdout(dse::merge(mo->first, mo->second));
            if (point->parsed()) return dse::run_point_command(*po);
            for (auto [value, name] : {std::pair{&o->model, "--model"}, {&o->out, "--out"}})
              if (value->empty()) throw Error(std::string("dse: ") + name + " is required");
            if (o->sweeps.empty()) throw Error("dse: give at least one --sweep KEY=V1,V2,...");
            o->progress = spdlog::default_logger()->should_log(spdlog::level::info);
            write_stdout(dse::run_sweep(*o));
          }};
}

}  // namespace tpusim::cli
