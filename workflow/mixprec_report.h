// The files `tpusim mixprec` writes about its points: pareto.csv (one row per evaluated point) and
// the point objects of report.json ("chosen", "uniform", "pareto").
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "isa/arch.h"
#include "workflow/mixprec_eval.h"
#include "workflow/mixprec_search.h"

namespace tpusim::workflow {

// index,origin,pareto,accuracy,loss,cycles,latency_us,energy_nj,weight_bytes,<layer>... with the
// qtable (wXaY per requantizing layer: weight bits, output bits); accuracy and loss on the search split.
std::string pareto_csv(const MixSpace& space, const SearchResult& r, const std::vector<size_t>& front,
                       const Arch& arch);

// A point as report.json shows it: accuracy (the report split, when measured; else null),
// search_accuracy, search_loss, cycles, latency_us, energy_nj, weight_bytes, point (its index),
// qtable ({layer: wXaY}).
nlohmann::json point_json(const MixSpace& space, const SearchResult& r, size_t point, const Arch& arch,
                          const std::optional<Accuracy>& report);

// The sensitivity list: per layer and lower choice, the loss increase, accuracy drop (points) and
// cycles saved against base.
nlohmann::json sensitivity_json(const MixSpace& space, const SearchResult& r);

}  // namespace tpusim::workflow
