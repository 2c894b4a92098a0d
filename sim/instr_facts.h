// What the timed model derives from an instruction alone — its LMEM footprint, the DDR address of a
// DMA, the DMA phases, the TIU duration and the requant stage — computed once per distinct
// instruction and architecture and kept across runs. A batch runs the same program for every
// image, and these came from accesses() (operand layouts, 128-bit footprint arithmetic, vectors)
// three times per instruction per run. Pure functions of (instruction, architecture), so the
// cycles are the same whether they are cached or not.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "isa/arch.h"
#include "isa/semantics.h"
#include "sim/timing.h"

namespace tpusim::sim {

struct InstrFacts {
  std::vector<Access> lmem;    // lmem_accesses()
  uint64_t ddr_lo = 0;         // the DDR operand's first byte (DMA load/store)
  DmaPhases dma;               // dma_phases()
  uint64_t tiu_cycles = 0;     // tiu_duration()
  uint64_t requant_stage = 0;  // requant_stage_cycles()
};

class InstrFactsCache {
 public:
  // Before a run on `a`: drops everything when the architecture changed or the cache grew large.
  void begin_run(const Arch& a);
  // The facts of `in` on the run's architecture; the reference stays valid until the next begin_run.
  const InstrFacts& get(const Instr& in);

 private:
  struct Hash {
    size_t operator()(const Instr& in) const;
  };
  const Arch* arch_ = nullptr;
  uint64_t fingerprint_ = 0;
  std::unordered_map<Instr, InstrFacts, Hash> facts_;
};

}  // namespace tpusim::sim
