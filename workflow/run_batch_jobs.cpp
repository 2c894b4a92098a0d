#include "workflow/run_batch_jobs.h"

#include "workflow/worker_pool.h"

namespace tpusim::workflow {

namespace {
nlohmann::json stats_part(const sim::Stats& s) {
  nlohmann::json j = sim::to_json(s);
  j["int4_speedup"] = s.int4_speedup;  // not in to_json; mac_utilization needs it
  return j;
}
}  // namespace

nlohmann::json batch_part_json(const sim::BatchResult& r) {
  nlohmann::json per_run = nlohmann::json::array();
  for (const sim::Stats& s : r.per_run) per_run.push_back(stats_part(s));
  return {{"runs", r.runs}, {"outputs", r.outputs}, {"per_run", per_run}, {"total", stats_part(r.total)}};
}

void merge_batch_part(sim::BatchResult& r, const nlohmann::json& part) {
  r.runs += part.at("runs").get<int64_t>();
  const nlohmann::json& outputs = part.at("outputs");
  r.outputs.resize(outputs.size());
  for (size_t k = 0; k < outputs.size(); ++k)
    for (const nlohmann::json& v : outputs[k]) r.outputs[k].push_back(v.get<int32_t>());
  for (const nlohmann::json& s : part.at("per_run")) r.per_run.push_back(sim::stats_from_json(s));
  sim::accumulate(r.total, sim::stats_from_json(part.at("total")));
}

sim::BatchResult run_batch_jobs(const Program& p, const Arch& a, const std::vector<sim::HostArray>& inputs,
                                const sim::BatchOptions& opt, unsigned jobs,
                                const std::vector<std::string>& worker_args) {
  // A malformed batch fails in run_batch itself, here, before any worker starts.
  const int64_t total =
      inputs.size() == p.inputs.size() && !inputs.empty() ? sim::batch_runs(inputs[0], p.inputs[0]) : 1;
  sim::BatchResult r;
  split_over_workers(
      total, jobs, worker_args,
      [&](int64_t begin, int64_t end) {
        sim::BatchOptions mine = opt;
        mine.begin = begin, mine.end = end;
        r = sim::run_batch(p, a, inputs, mine);
      },
      [&](const nlohmann::json& part) { merge_batch_part(r, part); }, "run");
  return r;
}

}  // namespace tpusim::workflow
