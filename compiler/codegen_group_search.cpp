// Back end, --opt 2: the resident schedule's choices searched with the cycle model (cycle_model.h)
// instead of taken greedily. Layer groups: every candidate chain
// (from each window op that does not fit LMEM whole, 2 to kMaxChain ops, sliced as plan_group
// estimates best) is emitted on its own and replayed by the cycle model, as is every op of a
// candidate alone (tiled, as it runs when not grouped); dynamic programming over the cut points
// then picks the non-overlapping chains of largest total saving. Costs measured this way are the
// simulator's for the code in isolation (a group uses the whole LMEM, so it starts once the run
// before it has drained), but not the neighbours' prefetch overlap, so the choice is kept only
// when the whole resident schedule, replayed, is faster than with the greedy groups — and, when
// faster by no more than 0.1%, moves no more DDR bytes (ResNet-18's greedy stem group saves 1.6 MB
// and costs 33 cycles). Then which layernorm/softmax ops run resident (choose_resident).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "base/error.h"
#include "compiler/codegen.h"
#include "compiler/cycle_model.h"

namespace tpusim::compiler::be {

namespace {

constexpr size_t kSlicings = 4;  // slicings per chain replayed (the estimate's best ones)

// The replayed cycles of what `emit` emits on its own; infinite when it cannot be emitted (a
// candidate the schedule would refuse must never make the search fail where --opt 1 compiles).
template <class Emit>
double replayed(const Arch& a, const EmitOptions& opts, Emit emit) {
  Program p;
  Emitter e(p, a, opts);
  try {
    emit(e);
  } catch (const Error&) {
    return std::numeric_limits<double>::infinity();
  }
  return double(replay_cycles(p.tiu, p.gdma, a).total);
}

double group_cycles(const IntGraph& g, const DdrMap& ddr, const Arch& a, const EmitOptions& opts,
                    const GroupPlan& plan) {
  return replayed(a, opts, [&](Emitter& e) {
    std::vector<OpEmitted> out;
    emit_group(e, g, ddr, a, plan, out);
  });
}

bool same_groups(const std::vector<GroupPlan>& x, const std::vector<GroupPlan>& y) {
  return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const GroupPlan& p, const GroupPlan& q) {
    return p.first == q.first && p.last == q.last && p.rows == q.rows && p.sets == q.sets;
  });
}

}  // namespace

std::vector<GroupPlan> search_groups(
    const IntGraph& g, const DdrMap& ddr, const Arch& a, const EmitOptions& opts,
    const std::vector<bool>& fits_whole, std::vector<GroupPlan> greedy,
    const std::function<ScheduleCost(const std::vector<GroupPlan>&)>& schedule_cost) {
  const size_t n = g.ops.size();
  const std::map<std::string, int> uses = tensor_uses(g);
  std::vector<double> alone(n, -1);  // replayed cycles of op k tiled on its own, when needed
  auto alone_cycles = [&](size_t k) {
    if (alone[k] < 0)
      alone[k] = replayed(a, opts, [&](Emitter& e) { emit_op(e, g, g.ops[k], ddr, ddr.consts[k], a); });
    return alone[k];
  };
  std::vector<std::vector<GroupPlan>> starts(n);  // candidate groups by first op
  for (size_t i = 0; i < n; ++i) {
    if (fits_whole[i] || !window_op(g.ops[i])) continue;
    for (size_t last = chain_end(g, i); last > i; --last) {
      const auto chain = make_chain(g, uses, i, last);
      if (!chain) continue;
      double ops_alone = 0;
      for (size_t k = i; k <= last; ++k) ops_alone += alone_cycles(k);
      std::optional<GroupPlan> fastest;  // of the slicings the estimate likes best, as replayed
      for (GroupPlan& p : plan_group_options(g, *chain, i, a, kSlicings)) {
        p.cost = group_cycles(g, ddr, a, opts, p), p.alone = ops_alone;
        if (!fastest || p.cost < fastest->cost) fastest = std::move(p);
      }
      if (fastest && fastest->cost < fastest->alone) starts[i].push_back(std::move(*fastest));
    }
  }
  // best[i]: the largest saving over ops i.. (op i either ungrouped or the first of a group).
  std::vector<double> best(n + 1, 0);
  std::vector<const GroupPlan*> pick(n, nullptr);
  for (size_t i = n; i-- > 0;) {
    best[i] = best[i + 1];
    for (const GroupPlan& p : starts[i])
      if (const double s = p.alone - p.cost + best[p.last + 1]; s > best[i]) best[i] = s, pick[i] = &p;
  }
  std::vector<GroupPlan> searched;
  for (size_t i = 0; i < n; ++i)
    if (pick[i]) searched.push_back(*pick[i]), i = pick[i]->last;
  if (!same_groups(searched, greedy)) {
    // Faster; by no more than 0.1% only without moving more DDR bytes.
    const ScheduleCost s = schedule_cost(searched), gr = schedule_cost(greedy);
    if (s.cycles < gr.cycles && (s.ddr_bytes <= gr.ddr_bytes || s.cycles * 1000 < gr.cycles * 999))
      return searched;
  }
  for (GroupPlan& p : greedy)  // the report's estimate: replayed
    if (const double c = group_cycles(g, ddr, a, opts, p); std::isfinite(c)) p.cost = c;
  return greedy;
}

std::vector<bool> choose_resident(const std::vector<bool>& can, std::vector<bool> on, ScheduleCost current,
                                  const std::function<ScheduleCost(const std::vector<bool>&)>& cost) {
  auto better = [](const ScheduleCost& x, const ScheduleCost& y) {
    return x.cycles < y.cycles || (x.cycles == y.cycles && x.ddr_bytes < y.ddr_bytes);
  };
  std::vector<bool> all = on;
  for (size_t i = 0; i < can.size(); ++i) all[i] = all[i] || can[i];
  if (all == on) return on;
  if (const ScheduleCost c = cost(all); better(c, current)) on = std::move(all), current = c;
  for (size_t i = 0; i < can.size(); ++i) {
    if (!can[i]) continue;
    on[i] = !on[i];
    if (const ScheduleCost c = cost(on); better(c, current))
      current = c;
    else
      on[i] = !on[i];
  }
  return on;
}

}  // namespace tpusim::compiler::be
