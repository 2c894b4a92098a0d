// tpusim demo: the main job end to end (workflow/demo.h, docs/demo.md).
#include <spdlog/spdlog.h>

#include <memory>

#include "base/file_io.h"
#include "cli/command.h"
#include "workflow/demo.h"
#include "workflow/qat_jobs.h"

namespace tpusim::cli {

Command add_demo(CLI::App& root) {
  auto o = std::make_shared<workflow::DemoOptions>();
  CLI::App* c = root.add_subcommand(
      "demo", "Train, quantize (PTQ/QAT, W8A8/W4A4), compile, simulate the test set, report (OUT/report.md)");
  c->add_option("-o,--out", o->out,
                "Output folder (reused: finished steps with unchanged options are skipped)")
      ->capture_default_str();
  c->add_option("--model", o->model, "lenet5, resnet8, mobilenet, mlp or vit_tiny")->capture_default_str();
  c->add_option("--dataset", o->dataset, "fashion-mnist, fashion-mnist:DIR, mnist:DIR or cifar10:DIR")
      ->capture_default_str();
  c->add_option("--arch", o->arch, "Architecture: preset name or YAML file")->capture_default_str();
  c->add_option("--from", o->from, "Start from this `tpusim train` folder instead of training");
  c->add_option("--epochs", o->epochs, "FP32 training epochs")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("--qat8-epochs", o->qat8_epochs, "QAT epochs at W8A8")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("--qat4-epochs", o->qat4_epochs, "QAT epochs at W4A4")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("--limit", o->train_limit, "Train on the first N training images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--test-limit", o->test_limit, "Evaluate on the first N test images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--compare-images", o->compare_images, "Test images of the per-layer comparison")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("--variants", o->variants,
                "Subset of ptq_w8a8, qat_w8a8, ptq_w4a4, qat_w4a4, ptq_w4a8, qat_w4a8 (default: the first "
                "four; vit_tiny: ptq_w8a8, qat_w8a8, qat_w4a8)")
      ->delimiter(',');
  c->add_flag("--plots,!--no-plots", o->plots, "Make the PNG plots (scripts/demo_plots.py, matplotlib)")
      ->capture_default_str();
  c->add_option("--threads", o->threads, "Threads for training and the integer reference (0 = all cores)");
  return {c, [o] {
            workflow::set_training_threads(o->threads);
            o->progress = spdlog::default_logger()->should_log(spdlog::level::info);
            workflow::run_demo(*o);
          }};
}

}  // namespace tpusim::cli
