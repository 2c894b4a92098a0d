// tpusim mixprec: per-layer bit widths chosen against simulated cycles (workflow/mixprec.h,
// docs/qat.md "Mixed precision").
#include <spdlog/spdlog.h>

#include <memory>

#include "cli/command.h"
#include "workflow/mixprec.h"

namespace tpusim::cli {

Command add_mixprec(CLI::App& root) {
  auto o = std::make_shared<workflow::MixprecOptions>();
  CLI::App* c = root.add_subcommand(
      "mixprec",
      "Per-layer bit widths on the Pareto front of accuracy vs simulated cycles (OUT/qtable.yaml)");
  c->add_option("--from", o->from, "A `tpusim train` output folder")->required();
  c->add_option("-o,--out", o->out, "Output folder")->required();
  c->add_option("--arch", o->arch, "Architecture the cycles are simulated on: preset name or YAML file")
      ->capture_default_str();
  c->add_option("--candidates", o->candidates, "Bit widths a layer may take, wXaY,... (at least two)")
      ->capture_default_str();
  c->add_option("--max-drop", o->max_drop,
                "Accuracy points the chosen point may lose against the most precise candidate, uniform")
      ->capture_default_str();
  c->add_option("--search-images", o->search_images, "The last N test images: sensitivity and search")
      ->capture_default_str();
  c->add_option("--report-images", o->report_images, "The first N test images: the reported accuracies")
      ->capture_default_str();
  c->add_option("--dataset", o->dataset, "fashion-mnist, fashion-mnist:DIR, mnist:DIR or cifar10:DIR")
      ->capture_default_str();
  c->add_option("--calib", o->calib, "PTQ calibrator: minmax, ema, percentile, mse or kl")
      ->capture_default_str();
  c->add_option("--calib-images", o->calib_images, "Calibrate on the first N training images")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("-j,--jobs", o->jobs,
                "Integer-reference and libtorch threads (0 = the CPUs this process may use)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  c->add_flag("--plots,!--no-plots", o->plots, "Draw OUT/pareto.png (scripts/mixprec_plot.py, matplotlib)")
      ->capture_default_str();
  return {c, [o] {
            o->progress = spdlog::default_logger()->should_log(spdlog::level::info);
            workflow::run_mixprec(*o);
          }};
}

}  // namespace tpusim::cli
