// Lmem: lanes x banks x lane_bytes of local memory, the byte array the engines' MemView.lmem points
// into. It checks every footprint an instruction starts with and counts GDMA/TIU instruction
// pairs that overlap in time on a common (lane, bank) — counted, not penalised — and, among
// them, pairs whose footprints share bytes with a write (an unsynchronised hazard).
// Intra-instruction TIU conflicts are a static property priced by timing.h (tiu_duration()).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "sim/interfaces.h"

namespace tpusim::sim {

class Lmem : public sc_core::sc_module, public LmemIf {
 public:
  explicit Lmem(sc_core::sc_module_name name);

  // Outside the simulation: take `storage` (swapped, not copied) for a run / give it back.
  void begin_run(const RunContext& ctx, std::vector<uint8_t>& storage);
  void end_run(std::vector<uint8_t>& storage);
  uint64_t bank_overlaps() const { return overlaps_; }
  uint64_t hazards() const { return hazards_; }

  std::span<uint8_t> bytes() override { return mem_; }
  std::string begin(Engine e, const std::vector<Access>& footprint) override;
  void finish(Engine e) override;

 private:
  struct InFlight {
    bool active = false;
    uint64_t start = 0;
    const std::vector<Access>* footprint = nullptr;
  };

  const RunContext* ctx_ = nullptr;
  std::vector<uint8_t> mem_;
  std::array<InFlight, 2> inflight_;
  uint64_t t0_ = 0;
  uint64_t overlaps_ = 0, hazards_ = 0;
};

}  // namespace tpusim::sim
