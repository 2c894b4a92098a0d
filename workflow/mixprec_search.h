// The search of `tpusim mixprec` (docs/qat.md, "Mixed precision"), independent of how a point is
// measured (the evaluator), so a test can drive it with a known cost model:
//  1. base: every layer at its most precise choice;
//  2. sensitivity: each layer alone lowered to each of its other choices, the rest at base;
//  3. greedy: from base, lower one layer by one step at a time — cheapest step first, where a
//     step's price is the loss it added in step 2 per simulated cycle it saved there (steps that
//     saved no cycles last, by loss) — until every layer is at its least precise choice;
//  4. uniform: every candidate on every layer.
// Every point evaluated is kept (the Pareto front is drawn from all of them); an assignment is
// evaluated once.
#pragma once
#include <functional>
#include <vector>

#include "workflow/mixprec_pareto.h"

namespace tpusim::workflow {

// One layer lowered alone (step 2), against base.
struct Sensitivity {
  size_t layer = 0;
  int choice = 0;
  double loss_increase = 0;  // loss(point) - loss(base)
  double accuracy_drop = 0;  // accuracy(base) - accuracy(point), a fraction
  int64_t cycles_saved = 0;  // cycles(base) - cycles(point)
  size_t point = 0;          // index in SearchResult::points
};

struct SearchResult {
  std::vector<MixPoint> points;
  std::vector<Sensitivity> sensitivity;  // by layer, then choice
  std::vector<size_t> greedy_path;       // point indices from base to all-least-precise
  std::vector<size_t> uniform;           // per candidate (as given to search), its point
};

// Fills in a point's measures for an assignment (origin is set by the search).
using Evaluator = std::function<MixPoint(const Assignment&)>;

SearchResult search(const MixSpace& space, const std::vector<qat::LayerBits>& candidates,
                    const Evaluator& evaluate);

}  // namespace tpusim::workflow
