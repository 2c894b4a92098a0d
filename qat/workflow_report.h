// The pieces of report.json the train/ptq/qat jobs share (docs/qat.md, "report.json").
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qat/deploy_model.h"
#include "qat/trainer.h"

namespace tpusim::qat {

struct DataOptions;

nlohmann::json report_header(const std::string& kind, const models::ModelSpec& spec, const DataOptions& data,
                             int64_t train_images, int64_t test_images);
nlohmann::json train_options_json(const TrainOptions& o);
nlohmann::json history_json(const std::vector<EpochStats>& h);
double seconds_per_epoch(const std::vector<EpochStats>& h);  // mean over the epochs run
// Per layer: bits, weight scales (per channel), output grid (scale, zero point, bits, signed).
nlohmann::json layers_json(const DeployModel& d);

}  // namespace tpusim::qat
