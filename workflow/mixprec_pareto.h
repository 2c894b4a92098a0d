// The evaluated points of `tpusim mixprec` and what is chosen from them: the Pareto front of
// accuracy (higher is better) against simulated cycles (fewer is better), and the fastest point
// within an accuracy floor.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "workflow/mixprec_space.h"

namespace tpusim::workflow {

struct MixPoint {
  Assignment assignment;
  std::string origin;    // "base", "sensitivity", "greedy", "uniform"
  double accuracy = 0;   // top-1 on the search split, through the integer reference
  double loss = 0;       // mean cross-entropy of the dequantized scores on the same images
  int64_t cycles = 0;    // simulated, one image
  double energy_nj = 0;  // sim::energy of that run
  int64_t weight_bytes = 0;
};

// Indices of the points no other point dominates (at least as accurate and at most as many cycles,
// better in one), by cycles ascending. Of points equal in both, the one with the least energy (then
// the first) is kept, the one choose_point would pick.
std::vector<size_t> pareto_front(const std::vector<MixPoint>& points);

// The point with the fewest cycles whose accuracy is at least `floor` (ties: the more accurate,
// then the less energy, then the first); nullopt when none is.
std::optional<size_t> choose_point(const std::vector<MixPoint>& points, double floor);

}  // namespace tpusim::workflow
