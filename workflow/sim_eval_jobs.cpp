#include "workflow/sim_eval_jobs.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/host_io.h"
#include "workflow/worker_pool.h"

namespace tpusim::workflow {

nlohmann::json sim_eval_part_json(const SimEvalResult& r) {
  nlohmann::json stats = sim::to_json(r.total);
  stats["int4_speedup"] = r.total.int4_speedup;
  return {{"images", r.images},           {"correct", r.correct}, {"classes", r.classes},
          {"predictions", r.predictions}, {"outputs", r.outputs}, {"stats", stats}};
}

void merge_sim_eval_part(SimEvalResult& r, const nlohmann::json& part) {
  r.images += part.at("images").get<int64_t>();
  r.correct += part.at("correct").get<int64_t>();
  r.classes = part.at("classes").get<int64_t>();
  for (const nlohmann::json& v : part.at("predictions")) r.predictions.push_back(v.get<int64_t>());
  for (const nlohmann::json& v : part.at("outputs")) r.outputs.push_back(v.get<int32_t>());
  sim::accumulate(r.total, sim::stats_from_json(part.at("stats")));
}

SimEvalResult sim_eval_jobs(const Program& p, const Arch& a, const models::ImageSet& set,
                            const SimEvalOptions& opt, const std::string& program_path, unsigned jobs,
                            const std::vector<std::string>& worker_args) {
  const int64_t all = opt.limit > 0 ? std::min(opt.limit, set.count) : set.count;
  SimEvalResult r;
  split_over_workers(
      all, jobs, worker_args,
      [&](int64_t begin, int64_t end) {
        SimEvalOptions mine = opt;
        mine.begin = begin, mine.end = end;
        r = sim_eval(p, a, set, mine, program_path);
      },
      [&](const nlohmann::json& part) { merge_sim_eval_part(r, part); }, program_path + ": eval");
  r.top1 = r.images > 0 ? static_cast<double>(r.correct) / static_cast<double>(r.images) : 0.0;
  return r;
}

}  // namespace tpusim::workflow
