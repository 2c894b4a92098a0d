// The figures of an accuracy run through the simulator (`tpusim eval`, `tpusim demo`): text for
// the terminal and JSON, per image means of the timed run's statistics.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "workflow/intref_eval.h"
#include "workflow/sim_eval.h"

namespace tpusim::workflow {

struct EvalReport {
  std::string program, dataset, source;
  Arch arch;
  const SimEvalResult* sim = nullptr;
  const IntRefResult* reference = nullptr;  // optional
  int64_t identical = 0;                    // images whose outputs equal the reference's
};

// Per-image means of a timed run: cycles, latency, MACs, DDR bytes, MAC utilization, engines.
nlohmann::json per_image_perf(const SimEvalResult& r, const Arch& a);
nlohmann::json eval_json(const EvalReport& e);
std::string eval_text(const EvalReport& e);

}  // namespace tpusim::workflow
