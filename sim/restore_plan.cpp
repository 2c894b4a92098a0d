#include "sim/restore_plan.h"

#include <algorithm>

#include "isa/semantics.h"
#include "sim/timing.h"

namespace tpusim::sim {

namespace {

std::vector<std::pair<uint64_t, uint64_t>> merged(std::vector<std::pair<uint64_t, uint64_t>> r,
                                                  uint64_t limit) {
  std::sort(r.begin(), r.end());
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (auto [lo, hi] : r) {
    hi = std::min(hi, limit);
    if (lo >= hi) continue;
    if (!out.empty() && lo <= out.back().second)
      out.back().second = std::max(out.back().second, hi);
    else
      out.emplace_back(lo, hi);
  }
  return out;
}

}  // namespace

RestorePlan restore_plan(const Program& p, const Arch& a) {
  const Geometry geo = geometry(a);
  std::vector<std::pair<uint64_t, uint64_t>> ddr, lmem;
  for (const std::vector<Instr>* stream : {&p.gdma, &p.tiu})
    for (const Instr& in : *stream)
      for (const Access& acc : accesses(in, geo)) {
        if (!acc.write) continue;
        if (acc.space == Space::Ddr) {
          ddr.emplace_back(acc.lo, acc.hi);
          continue;
        }
        for (uint64_t lane = acc.lane_lo; lane < acc.lane_hi; ++lane)
          lmem.emplace_back(lane * geo.lane_bytes + acc.lo, lane * geo.lane_bytes + acc.hi);
      }
  return {merged(std::move(ddr), UINT64_MAX), merged(std::move(lmem), uint64_t{geo.lanes} * geo.lane_bytes)};
}

void restore(DeviceMemory& mem, const DeviceMemory& fresh, const RestorePlan& plan) {
  if (mem.ddr.size() != fresh.ddr.size() || mem.lmem.size() != fresh.lmem.size()) {
    mem = fresh;
    return;
  }
  auto copy = [](std::vector<uint8_t>& to, const std::vector<uint8_t>& from, const auto& ranges) {
    for (const auto& [lo, hi] : ranges) {
      const uint64_t end = std::min<uint64_t>(hi, from.size());
      if (lo < end)
        std::copy(from.begin() + static_cast<ptrdiff_t>(lo), from.begin() + static_cast<ptrdiff_t>(end),
                  to.begin() + static_cast<ptrdiff_t>(lo));
    }
  };
  copy(mem.ddr, fresh.ddr, plan.ddr);
  copy(mem.lmem, fresh.lmem, plan.lmem);
}

}  // namespace tpusim::sim
