#include "qat/workflow_report.h"

#include <algorithm>

#include "qat/workflow.h"

namespace tpusim::qat {

namespace {

nlohmann::json grid_json(const QuantParams& p) {
  return {
      {"scale", p.scale}, {"zero_point", p.zero_point}, {"bits", p.spec.bits}, {"signed", p.spec.is_signed}};
}

}  // namespace

nlohmann::json report_header(const std::string& kind, const models::ModelSpec& spec, const DataOptions& data,
                             int64_t train_images, int64_t test_images) {
  return {{"kind", kind},
          {"model", spec.name},
          {"dataset", data.dataset},
          {"input", {spec.in_ch, spec.height, spec.width}},
          {"classes", spec.classes},
          {"macs_per_image", spec.macs()},
          {"train_images", train_images},
          {"test_images", test_images}};
}

nlohmann::json train_options_json(const TrainOptions& o) {
  return {{"epochs", o.epochs},         {"batch_size", o.batch_size},
          {"optimizer", o.optimizer},   {"lr", o.lr},
          {"momentum", o.momentum},     {"weight_decay", o.weight_decay},
          {"schedule", o.schedule},     {"step_epochs", o.step_epochs},
          {"step_gamma", o.step_gamma}, {"seed", o.seed},
          {"augment", o.augment}};
}

nlohmann::json history_json(const std::vector<EpochStats>& h) {
  nlohmann::json a = nlohmann::json::array();
  for (const EpochStats& e : h)
    a.push_back({{"epoch", e.epoch},
                 {"lr", e.lr},
                 {"loss", e.loss},
                 {"train_accuracy", e.train_accuracy},
                 {"test_accuracy", e.test_accuracy},
                 {"seconds", e.seconds},
                 {"images_per_second", e.images_per_second}});
  return a;
}

double seconds_per_epoch(const std::vector<EpochStats>& h) {
  if (h.empty()) return 0;
  double s = 0;
  for (const EpochStats& e : h) s += e.seconds;
  return s / static_cast<double>(h.size());
}

nlohmann::json layers_json(const DeployModel& d) {
  nlohmann::json a = nlohmann::json::array();
  a.push_back({{"name", "image"}, {"kind", "Input"}, {"out", grid_json(d.input)}});
  for (size_t i = 0; i < d.spec.layers.size(); ++i) {
    const models::Layer& l = d.spec.layers[i];
    const DeployLayer& dl = d.layers[i];
    nlohmann::json j = {{"name", l.name}, {"kind", models::name(l.kind)}};
    if (!dl.w_scale.empty()) {
      j["weight_bits"] = dl.w_spec.bits;
      j["weight_narrow"] = dl.w_spec.narrow;
      j["weight_scales"] = dl.w_scale;
      j["weight_scale_min"] = *std::min_element(dl.w_scale.begin(), dl.w_scale.end());
      j["weight_scale_max"] = *std::max_element(dl.w_scale.begin(), dl.w_scale.end());
    }
    if (dl.has_out) j["out"] = grid_json(dl.out);
    a.push_back(j);
  }
  return a;
}

}  // namespace tpusim::qat
