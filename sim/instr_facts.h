// What the timed model derives from an instruction alone — its LMEM footprint, the DDR address of a
// DMA, the DMA phases, the TIU duration and the requant stage — computed once per instruction of
// a program and architecture and kept across runs. A batch runs the same program for every
// image, and these came from accesses() (operand layouts, 128-bit footprint arithmetic, vectors)
// three times per instruction per run. Pure functions of (instruction, architecture), so the
// cycles are the same whether they are cached or not; an entry is used only for an instruction
// equal to the one it was computed from.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "isa/arch.h"
#include "isa/isa.h"
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
  // Looked up by the instruction's address (a batch runs the same Program object), and recomputed
  // when the instruction found there is not the one they were computed for.
  const InstrFacts& get(const Instr& in);

 private:
  struct Entry {
    bool valid = false;
    Instr instr;
    InstrFacts facts;
  };
  const Arch* arch_ = nullptr;
  uint64_t fingerprint_ = 0;
  std::unordered_map<const Instr*, Entry> facts_;
};

}  // namespace tpusim::sim
