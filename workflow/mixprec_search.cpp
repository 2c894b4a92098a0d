#include "workflow/mixprec_search.h"

#include <algorithm>
#include <limits>
#include <map>

namespace tpusim::workflow {

namespace {

struct Points {
  const Evaluator& evaluate;
  SearchResult& r;
  std::map<Assignment, size_t> index;

  size_t get(const Assignment& a, const char* origin) {
    if (const auto it = index.find(a); it != index.end()) return it->second;
    MixPoint p = evaluate(a);
    p.assignment = a;
    p.origin = origin;
    r.points.push_back(std::move(p));
    return index[a] = r.points.size() - 1;
  }
};

// A greedy step: layer `layer` from choice-1 to `choice`, priced from step 2's measurements.
struct Step {
  size_t layer;
  int choice;
  double loss, saved;
};

}  // namespace

SearchResult search(const MixSpace& space, const std::vector<qat::LayerBits>& candidates,
                    const Evaluator& evaluate) {
  const std::vector<MixLayer>& layers = space.layers;
  SearchResult r;
  Points pts{evaluate, r, {}};
  const Assignment base(layers.size(), 0);
  const size_t b = pts.get(base, "base");

  std::vector<Step> steps;
  for (size_t l = 0; l < layers.size(); ++l) {
    double prev_loss = r.points[b].loss;
    int64_t prev_cycles = r.points[b].cycles;
    for (int k = 1; k < static_cast<int>(layers[l].choices.size()); ++k) {
      Assignment a = base;
      a[l] = k;
      const size_t i = pts.get(a, "sensitivity");
      const MixPoint &p = r.points[i], &bp = r.points[b];
      r.sensitivity.push_back({l, k, p.loss - bp.loss, bp.accuracy - p.accuracy, bp.cycles - p.cycles, i});
      steps.push_back({l, k, p.loss - prev_loss, static_cast<double>(prev_cycles - p.cycles)});
      prev_loss = p.loss;
      prev_cycles = p.cycles;
    }
  }

  // Cheapest first: loss per cycle saved; steps that save nothing go last, least loss first.
  const auto price = [](const Step& s) {
    return s.saved > 0 ? s.loss / s.saved : std::numeric_limits<double>::infinity();
  };
  std::stable_sort(steps.begin(), steps.end(), [&](const Step& x, const Step& y) {
    const double px = price(x), py = price(y);
    return px != py ? px < py : x.loss < y.loss;
  });
  Assignment cur = base;
  r.greedy_path.push_back(b);
  std::vector<bool> taken(steps.size(), false);
  for (size_t done = 0; done < steps.size(); ++done) {
    // The cheapest step whose layer is at the choice just above it (a layer's steps go in order).
    size_t s = 0;
    while (taken[s] || cur[steps[s].layer] != steps[s].choice - 1) ++s;
    taken[s] = true;
    cur[steps[s].layer] = steps[s].choice;
    r.greedy_path.push_back(pts.get(cur, "greedy"));
  }

  for (const qat::LayerBits& c : candidates)
    r.uniform.push_back(pts.get(uniform_assignment(space, c), "uniform"));
  return r;
}

}  // namespace tpusim::workflow
