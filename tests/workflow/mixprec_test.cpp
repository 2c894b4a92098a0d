// tpusim mixprec's pieces without libtorch or the simulator (workflow/mixprec_*.h): the candidate
// list, the search space of the zoo models, the Pareto front and the choice against brute force,
// and the search driven by a known cost model.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "base/error.h"
#include "models/model_spec.h"
#include "workflow/mixprec_pareto.h"
#include "workflow/mixprec_search.h"
#include "workflow/mixprec_space.h"

using namespace tpusim;
using namespace tpusim::workflow;
using Catch::Matchers::Contains;

namespace {

std::string names(const std::vector<qat::LayerBits>& v) {
  std::string s;
  for (const auto& b : v) s += (s.empty() ? "" : ",") + qat::bits_name(b);
  return s;
}

}  // namespace

TEST_CASE("mixprec: candidates are ordered most precise first; bad lists are refused") {
  CHECK(names(parse_candidates("w4a4,w8a8,w4a8")) == "w8a8,w4a8,w4a4");
  CHECK(names(parse_candidates("w2a8,w8a2,w4a4")) == "w8a2,w2a8,w4a4");  // equal sums: more weight bits first
  CHECK_THROWS_WITH(parse_candidates("w8a8,w9a4"), Contains("--candidates 'w8a8,w9a4': bits 'w9a4'"));
  CHECK_THROWS_WITH(parse_candidates("w8a8,int4"), Contains("bits 'int4'"));
  CHECK_THROWS_WITH(parse_candidates("w8a8,w8a8"), Contains("w8a8 is given twice"));
  CHECK_THROWS_WITH(parse_candidates("w8a8"), Contains("at least two"));
  CHECK_THROWS_WITH(parse_candidates("w8a8,,w4a4"), Contains("bits ''"));
}

TEST_CASE("mixprec: the search space of lenet5 and resnet8") {
  const auto cands = parse_candidates("w8a8,w4a8,w4a4");
  const models::ModelSpec lenet = models::model_spec("lenet5");
  const MixSpace s = mixprec_space(lenet, cands);
  std::vector<std::string> n;
  for (const MixLayer& m : s.layers) n.push_back(m.name);
  CHECK(n == std::vector<std::string>{"conv1", "conv2", "fc1", "fc2"});
  CHECK(names(s.layers[0].choices) == "w8a8,w4a8");  // conv1 reads the 8-bit image
  CHECK(names(s.layers[1].choices) == "w8a8,w4a8,w4a4");
  CHECK(names(s.layers[3].choices) == "w8a8,w4a8,w4a4");
  CHECK(uniform_assignment(s, cands[2]) == Assignment{1, 2, 2, 2});
  CHECK(uniform_assignment(s, cands[0]) == Assignment{0, 0, 0, 0});
  CHECK(assignment_text(s, {0, 2, 1, 1}) == "conv1=w8a8 conv2=w4a4 fc1=w4a8 fc2=w4a8");
  const auto text = [](const qat::QTable& t) {
    std::string r;
    for (const auto& e : t) r += e.layer + "=" + qat::bits_name(e.bits) + " ";
    return r;
  };
  // conv2's MACs at int4: its weights and what it reads (conv1's output, through pool1) at 4 bits.
  CHECK(text(to_qtable(s, {0, 2, 0, 0})) == "conv1=w8a4 conv2=w4a8 fc1=w8a8 fc2=w8a8 ");
  // fc2 reading 4 bits lowers fc1's output; the class scores stay 8-bit.
  CHECK(text(to_qtable(s, {1, 0, 0, 2})) == "conv1=w4a8 conv2=w8a8 fc1=w8a4 fc2=w4a8 ");
  CHECK(text(to_qtable(s, uniform_assignment(s, cands[2]))) == "conv1=w4a4 conv2=w4a4 fc1=w4a4 fc2=w4a8 ");
  // Weight bytes: conv1 32*1*9, conv2 64*32*9, fc1 128*3136, fc2 10*128; 4-bit halves.
  CHECK(weight_bytes(lenet, to_qtable(s, {0, 0, 0, 0})) == 288 + 18432 + 401408 + 1280);
  CHECK(weight_bytes(lenet, to_qtable(s, {0, 2, 1, 0})) == 288 + 18432 / 2 + 401408 / 2 + 1280);

  const models::ModelSpec resnet = models::model_spec("resnet8");
  const MixSpace r = mixprec_space(resnet, cands);
  CHECK(r.layers.size() == 10);  // stem, 2 convs per block, 2 projections, fc
  CHECK(names(r.layers[0].choices) == "w8a8,w4a8");
  // Lowering block2's first conv lowers what it reads, block1's add output, for block2's
  // projection too (one tensor, one grid); the add's inputs follow its output.
  size_t b2c1 = 0;
  for (size_t k = 0; k < r.layers.size(); ++k)
    if (r.layers[k].name == "block2_conv1") b2c1 = k;
  Assignment a(r.layers.size(), 0);
  a[b2c1] = 2;
  std::map<std::string, std::string> t;
  for (const auto& e : to_qtable(r, a)) t[e.layer] = qat::bits_name(e.bits);
  CHECK(t.at("block1_add") == "w8a4");
  CHECK(t.at("block1_conv2") == "w8a4");
  CHECK(t.at("stem") == "w8a4");  // the add's skip input
  CHECK(t.at("block2_conv1") == "w4a8");
  CHECK(t.at("block2_add") == "w8a8");
  CHECK(t.size() == 14);  // every requantizing layer: 10 weighted, 3 adds, the pool
  std::map<std::string, std::string> u;
  for (const auto& e : to_qtable(r, uniform_assignment(r, cands[2]))) u[e.layer] = qat::bits_name(e.bits);
  CHECK(u.at("gap") == "w8a4");
  CHECK(u.at("block3_add") == "w8a4");
  CHECK(u.at("fc") == "w4a8");
  CHECK(u.at("stem") == "w4a4");
}

TEST_CASE("mixprec: the Pareto front and the choice agree with brute force") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<MixPoint> p(1 + rng() % 12);
    for (MixPoint& x : p) {
      x.cycles = 100 + static_cast<int64_t>(rng() % 6);  // few values: ties in both measures
      x.accuracy = 0.8 + 0.01 * static_cast<double>(rng() % 5);
      x.energy_nj = static_cast<double>(rng() % 3);
    }
    const std::vector<size_t> front = pareto_front(p);
    for (size_t i = 0; i < p.size(); ++i) {
      bool dominated = false, earlier_twin = false;
      for (size_t j = 0; j < p.size(); ++j) {
        if (j == i) continue;
        const bool ge = p[j].accuracy >= p[i].accuracy && p[j].cycles <= p[i].cycles;
        dominated |= ge && (p[j].accuracy > p[i].accuracy || p[j].cycles < p[i].cycles);
        earlier_twin |= p[j].accuracy == p[i].accuracy && p[j].cycles == p[i].cycles &&
                        (p[j].energy_nj < p[i].energy_nj || (p[j].energy_nj == p[i].energy_nj && j < i));
      }
      const bool on = std::find(front.begin(), front.end(), i) != front.end();
      INFO("trial " << trial << " point " << i);
      CHECK(on == (!dominated && !earlier_twin));
    }
    for (size_t k = 1; k < front.size(); ++k) CHECK(p[front[k - 1]].cycles < p[front[k]].cycles);

    const double floor = 0.8 + 0.01 * static_cast<double>(rng() % 6) - 1e-9;
    const std::optional<size_t> c = choose_point(p, floor);
    std::optional<size_t> want;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i].accuracy < floor) continue;
      if (!want || std::make_tuple(p[i].cycles, -p[i].accuracy, p[i].energy_nj) <
                       std::make_tuple(p[*want].cycles, -p[*want].accuracy, p[*want].energy_nj))
        want = i;
    }
    CHECK(c == want);
    if (c) CHECK(std::find(front.begin(), front.end(), *c) != front.end());
  }
}

TEST_CASE("mixprec: the search on a known cost model") {
  // Three layers; lowering layer l to choice k saves saved[l][k] cycles and adds loss[l][k] (both
  // cumulative from choice 0), independently of the others.
  MixSpace space;
  space.top = {8, 8};
  space.layers = {{"a", {{8, 8}, {4, 8}, {4, 4}}, 0, false},
                  {"b", {{8, 8}, {4, 8}, {4, 4}}, 1, false},
                  {"c", {{8, 8}, {4, 8}}, 2, true}};
  const std::vector<std::vector<int64_t>> saved = {{0, 10, 30}, {0, 100, 160}, {0, 0}};
  const std::vector<std::vector<double>> loss = {{0, 0.05, 0.5}, {0, 0.02, 0.03}, {0, 0.01}};
  std::map<Assignment, int> calls;
  const Evaluator eval = [&](const Assignment& a) {
    ++calls[a];
    MixPoint p;
    p.cycles = 1000;
    for (size_t l = 0; l < a.size(); ++l) {
      p.cycles -= saved[l][static_cast<size_t>(a[l])];
      p.loss += loss[l][static_cast<size_t>(a[l])];
    }
    p.accuracy = 0.9 - p.loss / 10;
    return p;
  };
  const auto cands = parse_candidates("w8a8,w4a8,w4a4");
  const SearchResult r = search(space, cands, 0.01, eval);

  for (const auto& [a, n] : calls) CHECK(n == 1);  // every assignment evaluated once
  CHECK(calls.size() == r.points.size());
  CHECK(r.points[0].assignment == Assignment{0, 0, 0});
  CHECK(r.points[0].origin == "base");
  REQUIRE(r.sensitivity.size() == 5);
  CHECK(r.sensitivity[1].layer == 0);
  CHECK(r.sensitivity[1].choice == 2);
  CHECK(r.sensitivity[1].cycles_saved == 30);
  CHECK(r.sensitivity[1].loss_increase == Approx(0.5));
  CHECK(r.sensitivity[1].accuracy_drop == Approx(0.05));

  // Move prices (loss per cycle saved, against base): b2 0.03/160, b1 0.02/100 (skipped: b is
  // already lower), a1 0.05/10, a2 0.5/30; c1 saves nothing: last.
  std::vector<Assignment> path;
  for (size_t i : r.greedy_path) path.push_back(r.points[i].assignment);
  CHECK(path == std::vector<Assignment>{{0, 0, 0}, {0, 2, 0}, {1, 2, 0}, {2, 2, 0}, {2, 2, 1}});
  for (size_t k = 1; k < r.greedy_path.size(); ++k)
    CHECK((r.points[r.greedy_path[k]].origin == "greedy" ||
           r.points[r.greedy_path[k]].origin == "sensitivity"));
  REQUIRE(r.uniform.size() == 3);
  CHECK(r.points[r.uniform[0]].assignment == Assignment{0, 0, 0});
  CHECK(r.points[r.uniform[1]].assignment == Assignment{1, 1, 1});
  CHECK(r.points[r.uniform[1]].origin == "uniform");
  CHECK(r.points[r.uniform[2]].assignment == Assignment{2, 2, 1});
  // The choice: accuracy 0.9 - loss/10 >= 0.89 means loss <= 0.1; the fastest such point is
  // {1, 2, 0} (830 cycles, loss 0.08). Refine evaluates its neighbours: {0,2,0} and {2,2,0} were
  // evaluated already, {1,1,0} (890, 0.07) and {1,2,1} (830, 0.09: as fast, less accurate) are new.
  CHECK(r.points[r.chosen].assignment == Assignment{1, 2, 0});
  CHECK(r.points[r.points.size() - 2].assignment == Assignment{1, 1, 0});
  CHECK(r.points.back().assignment == Assignment{1, 2, 1});
  CHECK(r.points.back().origin == "refine");
  // 1 base + 5 sensitivity + 3 greedy moves (the first is a sensitivity point) + uniform w4a8 + 2 refine.
  CHECK(r.points.size() == 12);
}
