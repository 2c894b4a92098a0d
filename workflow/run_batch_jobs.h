// `tpusim run --jobs N`: a batch's runs split into N contiguous ranges over worker processes
// (workflow/worker_pool.h), merged in run order: outputs, per-run and summed statistics are the
// same whatever N.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/host_io.h"

namespace tpusim::workflow {

// `worker_args`: the command line (after the binary) of a `tpusim run` of the same program and
// inputs; each worker gets it plus "--range B:E --part-out FILE". The first range runs here with
// `opt` (its progress, the first run's events).
sim::BatchResult run_batch_jobs(const Program& p, const Arch& a, const std::vector<sim::HostArray>& inputs,
                                const sim::BatchOptions& opt, unsigned jobs,
                                const std::vector<std::string>& worker_args);

// A worker's part: its runs' outputs, per-run statistics and their sum.
nlohmann::json batch_part_json(const sim::BatchResult& r);
// Appends a part (the next runs in order) to `r`.
void merge_batch_part(sim::BatchResult& r, const nlohmann::json& part);

}  // namespace tpusim::workflow
