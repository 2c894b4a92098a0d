// The compiler's cost model: a program's cycles by replaying its two instruction streams with the
// simulator's own per-instruction formulas (sim/timing.h) — each engine in order, a `sync` waiting
// for the other engine's completed count, `end` and `sync` taking no time. docs/timing.md's model
// charges nothing else (one GDMA never waits for the DDR bus; GDMA/TIU bank overlaps are free), so
// the replay is the timed simulator's total_cycles, without SystemC and in microseconds. --opt 2
// chooses its layer groups and resident layernorm/softmax by replaying candidate schedules
// (codegen_group_search.cpp, codegen_resident.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "isa/arch.h"
#include "isa/isa.h"

namespace tpusim::compiler {

struct ReplayCycles {
  uint64_t total = 0;                    // when the later engine finished its last instruction
  uint64_t tiu_busy = 0, gdma_busy = 0;  // sums of durations
};

// Streams need not end with `end` (a fragment replays as well); an engine stops at its `end`, as
// in the simulator. A sync that can never be released (count beyond the other stream) throws Error.
ReplayCycles replay_cycles(const std::vector<Instr>& tiu, const std::vector<Instr>& gdma, const Arch& a);

}  // namespace tpusim::compiler
