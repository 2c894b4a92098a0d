// What a run measured: cycles, per-engine occupancy, MAC utilisation, traffic, instruction mix,
// bank conflicts and accumulator overflows; as JSON (stats.json) and as a human summary table.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "isa/arch.h"
#include "isa/isa.h"

namespace tpusim::sim {

// Per engine: busy + waiting + idle == Stats::total_cycles (timed mode).
struct EngineStats {
  uint64_t instructions = 0;  // every instruction of the stream that completed, sync/end included
  uint64_t busy = 0;          // cycles executing dma.* / TIU instructions
  uint64_t waiting = 0;       // cycles blocked in sync
  uint64_t idle = 0;          // the rest: after its end, while the other engine still runs
};

struct Stats {
  std::string arch;
  double clock_mhz = 0;
  bool functional = false;  // functional mode: total, busy/waiting/idle and DDR bus cycles are 0
  uint64_t total_cycles = 0;
  std::array<EngineStats, 2> engines{};  // indexed by Engine::Gdma, Engine::Tiu

  uint64_t macs = 0;                 // multiply-accumulates performed (conv2d, matmul)
  uint64_t macs_int4 = 0;            // of those, int4 x int4 (the rest run at the int8 rate)
  uint64_t peak_macs_per_cycle = 0;  // lanes * macs_per_lane (int8)
  uint64_t int4_speedup = 1;         // int4 x int4 MACs per int8 MAC slot
  uint64_t acc_overflows = 0;        // int32 accumulator saturations
  uint64_t ddr_read_bytes = 0, ddr_write_bytes = 0;
  uint64_t lmem_read_bytes = 0, lmem_write_bytes = 0;
  std::map<std::string, uint64_t> opcode_counts;  // by mnemonic

  uint64_t tiu_bank_conflicts = 0;      // operand pairs of one TIU instruction sharing a bank (static)
  uint64_t tiu_conflict_cycles = 0;     // stall cycles they cost (static: also in functional mode)
  uint64_t gdma_tiu_bank_overlaps = 0;  // timed: GDMA/TIU instruction pairs overlapping in time and bank
  uint64_t lmem_hazards = 0;            // timed: of those, pairs also sharing bytes with a write
  uint64_t ddr_bus_busy_cycles = 0;     // cycles the DDR data bus carried bursts
  // Timed: busy cycles of the TIU's datapaths by unit name (mac_array, vector_unit, requant_unit);
  // the requant unit also counts its output stage pipelined behind the other two.
  std::map<std::string, uint64_t> tiu_unit_busy;

  const EngineStats& engine(Engine e) const { return engines[static_cast<int>(e)]; }
  EngineStats& engine(Engine e) { return engines[static_cast<int>(e)]; }
  double time_us() const { return clock_mhz > 0 ? double(total_cycles) / clock_mhz : 0; }
  // The share of the MAC array's slots in use: (int8-rate MACs + int4 MACs / int4_speedup) /
  // (total_cycles * lanes * macs_per_lane), at most 1.
  double mac_utilization() const;
};

// Energy of a run from the counts it executed and `a`'s cost parameters, in pJ (docs/dse.md):
// mac = int8 MACs x energy_mac_int8_pj + int4 MACs x energy_mac_int4_pj; lmem = bytes read and
// written x their per-byte energies; ddr = bytes read + written x energy_ddr_pj_per_byte;
// leakage = static_mw_per_mm2 x area_mm2() x time_us() (mW x us = nJ). total = the sum of the four.
struct Energy {
  double mac_pj = 0, lmem_pj = 0, ddr_pj = 0, static_pj = 0, total_pj = 0;
};
Energy energy(const Stats& s, const Arch& a);

nlohmann::json to_json(const Stats& s);
// The inverse of to_json (the derived time_us and mac_utilization are not read; int4_speedup,
// which to_json leaves out, is read when present, else 1): how worker processes hand their
// statistics back.
Stats stats_from_json(const nlohmann::json& j);
// A fixed-width table for terminals.
std::string summary(const Stats& s);

}  // namespace tpusim::sim
