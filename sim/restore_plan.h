// Restoring device memory between the runs of a batch (`tpusim eval`, `tpusim run` on a batch):
// every run must start from the program's fresh memory (prepare_memory()), but only the bytes some
// instruction may write can differ from it after a run. The plan lists them once per program — the
// union of the write footprints of both instruction streams (isa/semantics.h, accesses()) — so a
// restore copies those ranges instead of the whole DDR image and LMEM.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "isa/arch.h"
#include "isa/program.h"
#include "sim/simulator.h"

namespace tpusim::sim {

struct RestorePlan {
  std::vector<std::pair<uint64_t, uint64_t>> ddr, lmem;  // merged [lo, hi) byte ranges of mem.ddr / mem.lmem
};

RestorePlan restore_plan(const Program& p, const Arch& a);

// mem = fresh, copying only the plan's ranges when mem already holds an earlier run of the same
// program (same sizes), else everything.
void restore(DeviceMemory& mem, const DeviceMemory& fresh, const RestorePlan& plan);

}  // namespace tpusim::sim
