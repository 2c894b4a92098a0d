// tpusim train | ptq | qat: the QAT toolchain's options (qat/jobs.h) from the command line; the
// jobs and their defaults are workflow/qat_jobs.h's (docs/qat.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "base/error.h"
#include "base/file_io.h"
#include "cli/command.h"
#include "qat/jobs.h"
#include "qat/qtable.h"
#include "workflow/qat_jobs.h"
#include "workflow/trained_model.h"

namespace tpusim::cli {

namespace {

bool show_progress() { return spdlog::default_logger()->should_log(spdlog::level::info); }

void add_data_options(CLI::App* c, qat::DataOptions& d) {
  c->add_option("--dataset", d.dataset, "fashion-mnist, fashion-mnist:DIR, mnist:DIR or cifar10:DIR")
      ->capture_default_str();
  c->add_option("--limit", d.train_limit, "Use the first N training images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--test-limit", d.test_limit, "Evaluate on the first N test images (0 = all)")
      ->check(CLI::NonNegativeNumber);
}

void add_train_options(CLI::App* c, qat::TrainOptions& t) {
  c->add_option("--epochs", t.epochs, "Epochs")->capture_default_str()->check(CLI::PositiveNumber);
  c->add_option("--batch-size", t.batch_size, "Images per step")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("--optimizer", t.optimizer, "sgd or adam")
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "adam"}));
  c->add_option("--lr", t.lr, "Initial learning rate")->capture_default_str()->check(CLI::NonNegativeNumber);
  c->add_option("--momentum", t.momentum, "SGD momentum")->capture_default_str();
  c->add_option("--weight-decay", t.weight_decay, "L2 weight decay")->capture_default_str();
  c->add_option("--schedule", t.schedule, "cosine or step")
      ->capture_default_str()
      ->check(CLI::IsMember({"cosine", "step"}));
  c->add_option("--step-epochs", t.step_epochs, "step: decay every N epochs")->capture_default_str();
  c->add_option("--step-gamma", t.step_gamma, "step: decay factor")->capture_default_str();
  c->add_option("--seed", t.seed, "Seed of initialisation, shuffling and augmentation")
      ->capture_default_str();
  c->add_flag("--augment,!--no-augment", t.augment, "Random 2-pixel shifts and horizontal flips")
      ->capture_default_str();
  c->add_flag("--resume", t.resume, "Continue from OUT/checkpoint.pt (at most one epoch is lost)");
}

// Whether the user chose any part of the optimizer recipe (then a transformer keeps SGD's defaults
// for the rest rather than a mix).
bool recipe_given(const CLI::App* c) {
  return c->count("--optimizer") + c->count("--lr") + c->count("--weight-decay") > 0;
}

// The transformer recipe, keeping an --augment / --no-augment the user gave.
void use_recipe(const CLI::App* c, qat::TrainOptions& t, bool qat, const qat::LayerBits& bits) {
  const bool augment = t.augment;
  workflow::use_transformer_recipe(t, qat, bits);
  if (c->count("--augment") > 0) t.augment = augment;
}

void add_quant_options(CLI::App* c, std::string& bits, qat::QuantConfig& q,
                       std::vector<std::string>& layer_bits, std::string& qtable) {
  c->add_option("--bits", bits, "Weight and activation bits: w8a8, w4a4, w4a8, w2a2, ... (2..8)")
      ->capture_default_str();
  c->add_option("--first-bits", q.first_layer_bits, "Weight bits of the first layer (0 = as --bits)")
      ->capture_default_str();
  c->add_option("--last-bits", q.last_layer_bits,
                "Weight bits of the last layer and of its input (0 = as --bits)")
      ->capture_default_str();
  c->add_option("--output-bits", q.output_bits, "Bits of the class scores")
      ->capture_default_str()
      ->check(CLI::Range(2, 8));
  c->add_option("--layer", layer_bits, "Per-layer override NAME=wXaY (repeatable; wins over --qtable)");
  c->add_option("--qtable", qtable,
                "Per-layer overrides from a YAML file of NAME: wXaY (tpusim mixprec writes one)");
  c->add_flag("--narrow", q.narrow_weights, "Weights on the narrow grid [-(2^(b-1)-1), 2^(b-1)-1]");
}

// --qtable's layers, then --layer's on top: the table is the file form of --layer.
void apply_bits(const std::string& bits, const std::vector<std::string>& layer_bits,
                const std::string& qtable, const std::string& from, qat::QuantConfig& q) {
  q.bits = qat::parse_bits(bits);
  if (!qtable.empty()) qat::apply_qtable(workflow::read_qtable_for(qtable, from), q);
  for (int* b : {&q.first_layer_bits, &q.last_layer_bits})
    if (*b != 0 && (*b < 2 || *b > 8))
      throw Error(fmt::format("--first-bits/--last-bits {}: expected 0 or 2..8", *b));
  for (const std::string& s : layer_bits) {
    const auto eq = s.find('=');
    if (eq == std::string::npos) throw Error(fmt::format("--layer '{}': expected NAME=wXaY", s));
    q.layers[s.substr(0, eq)] = qat::parse_bits(s.substr(eq + 1));
  }
}

}  // namespace

Command add_train(CLI::App& root) {
  struct Opts {
    qat::TrainJob job;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  o->job = workflow::default_train_job();
  CLI::App* c =
      root.add_subcommand("train", "Train an FP32 model (writes OUT/model.onnx, report.json, model.pt)");
  c->add_option("--model", o->job.model, "lenet5, resnet8, mobilenet, mlp or vit_tiny")
      ->capture_default_str();
  c->add_option("-o,--out", o->job.out, "Output folder")->required();
  add_data_options(c, o->job.data);
  add_train_options(c, o->job.train);
  c->add_option("--threads", o->threads, "libtorch threads (0 = all cores)");
  return {c, [o, c] {
            workflow::set_training_threads(o->threads);
            if (workflow::is_transformer(o->job.model) && !recipe_given(c))
              use_recipe(c, o->job.train, false, {});
            o->job.train.progress = show_progress();
            workflow::run_train(o->job);
          }};
}

Command add_ptq(CLI::App& root) {
  struct Opts {
    qat::PtqJob job;
    std::string method = "mse";  // the default of compile/compare/infer too (docs/calibration.md)
    std::vector<std::string> layer_bits;
    std::string qtable;
    int64_t ref_limit = 1000;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* c = root.add_subcommand("ptq", "Post-training quantization of a `tpusim train` folder");
  c->add_option("--from", o->job.from, "A `tpusim train` output folder")->required();
  c->add_option("-o,--out", o->job.out, "Output folder")->required();
  add_quant_options(c, o->job.bits, o->job.quant, o->layer_bits, o->qtable);
  c->add_option("--calib", o->method, "minmax, ema, percentile, mse or kl")->capture_default_str();
  c->add_option("--calib-images", o->job.calib_images, "Calibrate on the first N training images")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("--percentile", o->job.ptq.percentile, "percentile: of |x|")->capture_default_str();
  c->add_option("--ref-limit", o->ref_limit, "Integer-reference check on the first N test images (0 = skip)")
      ->capture_default_str();
  add_data_options(c, o->job.data);
  c->add_option("--threads", o->threads, "libtorch threads (0 = all cores)");
  return {
      c, [o] {
        workflow::set_training_threads(o->threads);
        apply_bits(o->job.bits, o->layer_bits, o->qtable, o->job.from, o->job.quant);
        const auto m = calib_method_from_name(o->method);
        if (!m)
          throw Error(fmt::format("--calib '{}': expected minmax, ema, percentile, mse or kl", o->method));
        o->job.ptq.method = *m;
        o->job.ptq.progress = show_progress();
        workflow::run_ptq(o->job, o->ref_limit, show_progress());
      }};
}

Command add_qat(CLI::App& root) {
  struct Opts {
    qat::QatJob job;
    std::string algo = "lsq";
    std::vector<std::string> layer_bits;
    std::string qtable;
    int64_t ref_limit = 1000;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  o->job = workflow::default_qat_job();
  CLI::App* c = root.add_subcommand("qat", "Quantization-aware training from a `tpusim train` folder");
  c->add_option("--from", o->job.from, "A `tpusim train` output folder")->required();
  c->add_option("-o,--out", o->job.out, "Output folder")->required();
  c->add_option("--algo", o->algo, "ema (STE), lsq, pact or dorefa")->capture_default_str();
  add_quant_options(c, o->job.bits, o->job.quant, o->layer_bits, o->qtable);
  c->add_option("--freeze-bn", o->job.freeze_bn_epoch, "Freeze BN statistics from this epoch on (0 = never)")
      ->capture_default_str();
  c->add_option("--pact-decay", o->job.pact_decay, "PACT: L2 decay on alpha")->capture_default_str();
  c->add_option("--ref-limit", o->ref_limit, "Integer-reference check on the first N test images (0 = skip)")
      ->capture_default_str();
  add_data_options(c, o->job.data);
  add_train_options(c, o->job.train);
  c->get_option("--lr")->description("Initial learning rate (0 = 0.0001 at w8a8, else 0.01)");
  c->add_option("--threads", o->threads, "libtorch threads (0 = all cores)");
  return {c, [o, c] {
            workflow::set_training_threads(o->threads);
            apply_bits(o->job.bits, o->layer_bits, o->qtable, o->job.from, o->job.quant);
            if (workflow::is_transformer(workflow::trained_model_name(o->job.from)) && !recipe_given(c))
              use_recipe(c, o->job.train, true, o->job.quant.bits);
            const auto a = qat::algo_from_name(o->algo);
            if (!a || *a == qat::Algo::Fixed)
              throw Error(fmt::format("--algo '{}': expected ema, lsq, pact or dorefa", o->algo));
            o->job.quant.algo = *a;
            o->job.train.progress = show_progress();
            workflow::run_qat(o->job, o->ref_limit, show_progress());
          }};
}

}  // namespace tpusim::cli
