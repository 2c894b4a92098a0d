#include "sim/run_context.h"

#include "sim/timing.h"

namespace tpusim::sim {

RunContext::RunContext(const Program& p, const Arch& a, const RunOptions& o)
    : prog(p), arch(a), geo(geometry(a)), opt(o) {
  stats.arch = a.name;
  stats.clock_mhz = a.clock_mhz;
  stats.functional = o.functional;
  stats.peak_macs_per_cycle = uint64_t{a.lanes} * a.macs_per_lane;
  stats.int4_speedup = a.int4_speedup;
}

void RunContext::complete(Engine e, uint32_t index, Opcode op, uint64_t start, uint64_t end) {
  EngineStats& es = stats.engine(e);
  ++es.instructions;
  ++stats.opcode_counts[spec(op).mnemonic];
  if (op == Opcode::Sync)
    es.waiting += end - start;
  else
    es.busy += end - start;  // end: start == end
  if (op != Opcode::Sync && op != Opcode::End && spec(op).engine == Engine::Tiu) {
    const uint64_t pairs = conflict_pairs(prog.stream(e)[index], arch);
    stats.tiu_bank_conflicts += pairs;
    stats.tiu_conflict_cycles += pairs * arch.bank_conflict_cycles;
  }
  if (opt.keep_events && !opt.functional) events.push_back(Event{e, index, op, start, end});
}

void RunContext::finish(uint64_t total_cycles) {
  stats.total_cycles = total_cycles;
  for (EngineStats& es : stats.engines) es.idle = total_cycles - es.busy - es.waiting;
  stats.macs = counters.macs;
  stats.macs_int4 = counters.macs_int4;
  stats.acc_overflows = counters.acc_overflows;
  stats.ddr_read_bytes = counters.ddr_read;
  stats.ddr_write_bytes = counters.ddr_written;
  stats.lmem_read_bytes = counters.lmem_read;
  stats.lmem_write_bytes = counters.lmem_written;
}

}  // namespace tpusim::sim
