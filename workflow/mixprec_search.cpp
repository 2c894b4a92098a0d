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

// A greedy move: layer `layer` to `choice`, priced by step 2's measurement of it against base.
struct Step {
  size_t layer;
  int choice;
  double loss, saved;
};

}  // namespace

double accuracy_floor(const SearchResult& r, double max_drop) {
  return r.points.at(r.uniform.at(0)).accuracy - max_drop - 1e-12;
}

SearchResult search(const MixSpace& space, const std::vector<qat::LayerBits>& candidates, double max_drop,
                    const Evaluator& evaluate) {
  const std::vector<MixLayer>& layers = space.layers;
  SearchResult r;
  Points pts{evaluate, r, {}};
  const Assignment base(layers.size(), 0);
  const size_t b = pts.get(base, "base");

  std::vector<Step> steps;
  for (size_t l = 0; l < layers.size(); ++l) {
    for (int k = 1; k < static_cast<int>(layers[l].choices.size()); ++k) {
      Assignment a = base;
      a[l] = k;
      const size_t i = pts.get(a, "sensitivity");
      const MixPoint &p = r.points[i], &bp = r.points[b];
      r.sensitivity.push_back({l, k, p.loss - bp.loss, bp.accuracy - p.accuracy, bp.cycles - p.cycles, i});
      steps.push_back({l, k, p.loss - bp.loss, static_cast<double>(bp.cycles - p.cycles)});
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
  // A move to a choice the layer is already at or below is skipped; a layer may jump several
  // choices at once (its MACs may only get cheaper at the last one: int4 needs both operands).
  // Every layer's least precise choice is a move, so the path ends with every layer there.
  Assignment cur = base;
  r.greedy_path.push_back(b);
  for (const Step& s : steps) {
    if (cur[s.layer] >= s.choice) continue;
    cur[s.layer] = s.choice;
    r.greedy_path.push_back(pts.get(cur, "greedy"));
  }

  for (const qat::LayerBits& c : candidates)
    r.uniform.push_back(pts.get(uniform_assignment(space, c), "uniform"));

  const Assignment knee = r.points[*choose_point(r.points, accuracy_floor(r, max_drop))].assignment;
  for (size_t l = 0; l < layers.size(); ++l)
    for (int d : {-1, 1}) {
      Assignment a = knee;
      a[l] += d;
      if (a[l] >= 0 && a[l] < static_cast<int>(layers[l].choices.size())) pts.get(a, "refine");
    }
  r.chosen = *choose_point(r.points, accuracy_floor(r, max_drop));  // uniform[0] always qualifies
  return r;
}

}  // namespace tpusim::workflow
