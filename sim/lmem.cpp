#include "sim/lmem.h"

#include <fmt/format.h>

#include "sim/timing.h"

namespace tpusim::sim {

Lmem::Lmem(sc_core::sc_module_name name) : sc_core::sc_module(name) {}

void Lmem::begin_run(const RunContext& ctx, std::vector<uint8_t>& storage) {
  ctx_ = &ctx;
  mem_.swap(storage);
  inflight_ = {};
  t0_ = kernel_cycles();
  overlaps_ = hazards_ = 0;
}

void Lmem::end_run(std::vector<uint8_t>& storage) { storage.swap(mem_); }

std::string Lmem::begin(Engine e, const std::vector<Access>& footprint) {
  InFlight& f = inflight_[static_cast<int>(e)];
  f.footprint = &footprint;
  for (const Access& x : footprint) {
    if (x.lane_hi > ctx_->geo.lanes || x.lo > x.hi || x.hi > ctx_->geo.lane_bytes)
      return fmt::format("operand {} lanes [{}, {}) bytes [{}, {}) outside LMEM ({} lanes of {} bytes)",
                         x.operand, x.lane_lo, x.lane_hi, x.lo, x.hi, ctx_->geo.lanes, ctx_->geo.lane_bytes);
  }
  f.active = true;
  f.start = kernel_cycles() - t0_;
  return "";
}

// A pair is counted when the first of the two finishes while the other has been running for a
// positive time, so each overlapping pair is counted once and touching intervals are not counted.
void Lmem::finish(Engine e) {
  InFlight& me = inflight_[static_cast<int>(e)];
  const InFlight& them = inflight_[1 - static_cast<int>(e)];
  const uint64_t now = kernel_cycles() - t0_;
  if (them.active && them.start < now && me.start < now) {
    bool bank = false, bytes = false;
    for (const Access& x : *me.footprint)
      for (const Access& y : *them.footprint) {
        bank = bank || share_bank(x, y, ctx_->arch);
        bytes = bytes || ((x.write || y.write) && share_bytes(x, y));
      }
    overlaps_ += bank ? 1 : 0;
    hazards_ += bytes ? 1 : 0;
  }
  me.active = false;
}

}  // namespace tpusim::sim
