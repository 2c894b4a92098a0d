#include "workflow/mixprec_pareto.h"

#include <algorithm>
#include <numeric>

namespace tpusim::workflow {

std::vector<size_t> pareto_front(const std::vector<MixPoint>& points) {
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Cycles ascending, then accuracy descending, then energy ascending, then first: a sweep keeps a
  // point only when it is more accurate than every point before it (all of which are at most as slow).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const MixPoint &p = points[a], &q = points[b];
    if (p.cycles != q.cycles) return p.cycles < q.cycles;
    return p.accuracy != q.accuracy ? p.accuracy > q.accuracy : p.energy_nj < q.energy_nj;
  });
  std::vector<size_t> front;
  for (size_t i : order)
    if (front.empty() || points[i].accuracy > points[front.back()].accuracy) front.push_back(i);
  return front;
}

std::optional<size_t> choose_point(const std::vector<MixPoint>& points, double floor) {
  std::optional<size_t> best;
  for (size_t i = 0; i < points.size(); ++i) {
    const MixPoint& p = points[i];
    if (p.accuracy < floor) continue;
    if (!best) {
      best = i;
      continue;
    }
    const MixPoint& b = points[*best];
    if (p.cycles != b.cycles       ? p.cycles < b.cycles
        : p.accuracy != b.accuracy ? p.accuracy > b.accuracy
                                   : p.energy_nj < b.energy_nj)
      best = i;
  }
  return best;
}

}  // namespace tpusim::workflow
