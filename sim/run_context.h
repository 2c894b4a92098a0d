// Internal: the state of one run shared by the functional loop and the SystemC model — the
// program, the architecture, the statistics and events being recorded — and the two run modes.
#pragma once
#include <cstdint>
#include <vector>

#include "isa/semantics.h"
#include "sim/simulator.h"

namespace tpusim::sim {

struct RunContext {
  RunContext(const Program& p, const Arch& a, const RunOptions& o);

  // An instruction of `e`'s stream completed over [start, end) cycles: count it and, in timed mode,
  // add its time to the engine's busy (dma/TIU) or waiting (sync) cycles.
  void complete(Engine e, uint32_t index, Opcode op, uint64_t start, uint64_t end);
  // Total cycles known: derive idle time, fold the semantics counters into the statistics.
  void finish(uint64_t total_cycles);

  const Program& prog;
  const Arch& arch;
  Geometry geo;
  RunOptions opt;
  Stats stats;
  std::vector<Event> events;
  ExecCounters counters;  // filled by execute()
};

// Both throw Error on deadlock, watchdog expiry or a failing instruction; `mem` holds the
// memories in and out (sized by run()).
void run_functional(RunContext& ctx, DeviceMemory& mem);
void run_timed(RunContext& ctx, DeviceMemory& mem);

}  // namespace tpusim::sim
