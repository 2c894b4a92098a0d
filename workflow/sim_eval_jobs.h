// `tpusim eval --jobs N`: the images split into N contiguous ranges, the first evaluated in this
// process and the others by worker processes of this binary (one SystemC kernel each; see
// workflow/worker_pool.h), each writing its part as JSON; the parts merged in image order, so
// outputs, predictions and summed statistics are identical whatever N.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workflow/sim_eval.h"

namespace tpusim::workflow {

// `worker_args`: the command line (after the binary) of a `tpusim eval` of the same program,
// images and options; each worker gets it plus "--range B:E --part-out FILE". With jobs <= 1 (or
// a single image) this is sim_eval. Throws Error naming the failed worker's range.
SimEvalResult sim_eval_jobs(const Program& p, const Arch& a, const models::ImageSet& set,
                            const SimEvalOptions& opt, const std::string& program_path, unsigned jobs,
                            const std::vector<std::string>& worker_args);

// A worker's part: images, correct, predictions, outputs and the summed statistics.
nlohmann::json sim_eval_part_json(const SimEvalResult& r);
// Appends a part (the next images in order) to `r`.
void merge_sim_eval_part(SimEvalResult& r, const nlohmann::json& part);

}  // namespace tpusim::workflow
