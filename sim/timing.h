// Cycle formulas of every instruction, written once (docs/timing.md states them in prose). The
// timed engines take their durations from here; the tests check these functions exactly.
// Pure functions of the instruction and the architecture: no SystemC. The per-opcode answers
// (DMA phases, TIU unit, cycles, requant stage, MACs) come from one traits row per opcode in
// timing.cpp: an opcode without one does not compile (isa/opcode_traits.h).
#pragma once
#include <cstdint>
#include <vector>

#include "isa/arch.h"
#include "isa/dtype.h"
#include "isa/isa.h"
#include "isa/semantics.h"

namespace tpusim::sim {

// A DMA burst moves kBurstBeats * ddr_bytes_per_cycle bytes (the last one fewer), so a transfer's
// bursts add up to exactly ceil(bytes / ddr_bytes_per_cycle) bus cycles.
inline constexpr uint64_t kBurstBeats = 32;

// The phases of a GDMA instruction. load/store: startup, then the DDR latency, then `bus_bytes`
// over the shared DDR data bus; copy: startup, then `copy_cycles` of LMEM-to-LMEM traffic.
// All zero for an instruction that is not a GDMA one.
struct DmaPhases {
  uint64_t startup = 0;
  uint64_t latency = 0;
  uint64_t bus_bytes = 0;    // bytes crossing the DDR bus (0 for dma.copy)
  uint64_t copy_cycles = 0;  // dma.copy only
};
DmaPhases dma_phases(const Instr& in, const Arch& a);
// Packed bytes a DMA instruction moves: packed_bytes(dtype, n*c*h*w).
uint64_t dma_bytes(const Instr& in);
// Bus cycles for `bytes` at ddr_bytes_per_cycle, rounded up.
uint64_t ddr_bus_cycles(uint64_t bytes, const Arch& a);

// Effective MACs per lane per cycle: int4_speedup x when input and weights are both 4-bit.
uint64_t macs_eff(DType in, DType weight, const Arch& a);

// Which TIU datapath executes an instruction (informational; the whole TIU is busy either way).
// Meaningful for TIU opcodes only; others answer VectorUnit (they never reach a datapath).
enum class TiuUnit : uint8_t { MacArray, VectorUnit, RequantUnit };
TiuUnit tiu_unit(Opcode op);
const char* tiu_unit_name(TiuUnit u);

// Cycles the requant unit spends on a TIU instruction's output, ceil(C / lanes) *
// ceil(N*H*W / macs_per_lane) over the output tensor [N, C, H, W] (matmul: [m, n] as N*H*W = m,
// C = n) — the standalone requant's formula without start-up. For conv2d, matmul, pool and
// eltwise it runs pipelined behind the MAC array or vector unit: busy time, not added duration.
uint64_t requant_stage_cycles(const Instr& in, const Arch& a);

// Uncontended duration of one instruction, without bank-conflict stalls. sync and end: 0 (their
// waiting time is counted separately as waiting).
uint64_t cycles(const Instr& in, const Arch& a);

// Multiply-accumulates a conv2d or matmul performs (0 for other instructions).
uint64_t macs(const Instr& in);

// LMEM bank of a byte offset within a lane.
uint64_t bank_bytes(const Arch& a);
// True when two LMEM footprints touch the same bank of a common lane.
bool share_bank(const Access& x, const Access& y, const Arch& a);
// True when two LMEM footprints' bounding boxes share a byte of a common lane.
bool share_bytes(const Access& x, const Access& y);
// LMEM footprints of an instruction (accesses() restricted to LMEM).
std::vector<Access> lmem_accesses(const Instr& in, const Geometry& geo);
// Pairs of a TIU instruction's LMEM operands that share a bank in a common lane.
uint64_t conflict_pairs(const Instr& in, const Arch& a);

// Duration of a TIU instruction: cycles() + bank_conflict_cycles * conflict_pairs().
uint64_t tiu_duration(const Instr& in, const Arch& a);

Geometry geometry(const Arch& a);

}  // namespace tpusim::sim
