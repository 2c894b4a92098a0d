// The search of `tpusim mixprec` (docs/qat.md, "Mixed precision"), independent of how a point is
// measured (the evaluator), so a test can drive it with a known cost model:
//  1. base: every layer at its most precise choice;
//  2. sensitivity: each layer alone lowered to each of its other choices, the rest at base;
//  3. greedy: from base, lower one layer at a time to one of its choices — cheapest move first,
//     where a move's price is the loss it added in step 2 per simulated cycle it saved there
//     (moves that saved no cycles last, by loss; moves to a choice the layer is already at or
//     below skipped) — until every layer is at its least precise choice;
//  4. uniform: every candidate on every layer;
//  5. refine: the neighbours of the point chosen so far (the fewest cycles within `max_drop` of
//     the most precise uniform point): each layer one choice up and one down, the rest kept — the
//     knee of the front, where a layer the greedy order lowered too early, or too late, shows.
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
  size_t chosen = 0;                     // choose_point over every point, after step 5
};

// Fills in a point's measures for an assignment (origin is set by the search).
using Evaluator = std::function<MixPoint(const Assignment&)>;

// max_drop: the accuracy (a fraction) the chosen point may lose against uniform candidates[0].
SearchResult search(const MixSpace& space, const std::vector<qat::LayerBits>& candidates, double max_drop,
                    const Evaluator& evaluate);

// The accuracy floor of a search: uniform candidates[0]'s accuracy minus max_drop (and 1e-12, so
// that hits/n equal to a decimal floor qualifies).
double accuracy_floor(const SearchResult& r, double max_drop);

}  // namespace tpusim::workflow
