// Running a program: the public entry point of the simulator (docs/sim.md). SystemC stays behind
// this header, so callers (CLI, tests, benchmarks) need no SystemC flags.
//
//   DeviceMemory mem = prepare_memory(prog, arch);   // DDR sized to the program, constants placed
//   write_tensor(mem, prog.inputs[0], values);        // already-quantized integers
//   RunResult r = run(prog, arch, mem, {});           // timed (SystemC) by default
//   std::vector<int32_t> y = read_tensor(mem, prog.outputs[0]);
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "isa/arch.h"
#include "isa/program.h"
#include "sim/stats.h"

namespace tpusim::sim {

// The contents of the simulated memories. `ddr` is a prefix of the architecture's DDR that
// covers every address the program touches (ddr_footprint()); the rest of DDR is never read or
// written, so it is not stored. `lmem` is lanes * lane_bytes, lane l at [l*lane_bytes, ...).
struct DeviceMemory {
  std::vector<uint8_t> ddr;
  std::vector<uint8_t> lmem;
};

// The most simulated memory a run holds (the stored DDR prefix plus LMEM): a program and
// architecture that need more are refused with an Error before anything is allocated
// (docs/reliability.md, "Resource limits"). The largest preset has 1 GiB of DDR and 16 MiB of LMEM.
inline constexpr uint64_t kMaxDeviceBytes = uint64_t{4} << 30;

// One past the highest DDR byte the program touches: its DMA footprints, data blocks and I/O.
uint64_t ddr_footprint(const Program& p, const Arch& a);
// Zeroed memories sized for the program, with its data blocks written into DDR. Throws Error when
// they would exceed kMaxDeviceBytes.
DeviceMemory prepare_memory(const Program& p, const Arch& a);

// Place an already-quantized tensor (one int32 per element, NCHW order) at its descriptor's
// address, packed per its dtype. Throws Error naming the tensor when the count or a value's
// range is wrong, or the tensor lies outside `mem.ddr`.
void write_tensor(DeviceMemory& mem, const TensorDesc& t, std::span<const int32_t> values);
std::vector<int32_t> read_tensor(const DeviceMemory& mem, const TensorDesc& t);

// One executed instruction, in cycles from the start of the run (trace writers read these).
// sync: [arrival, release); end: start == end.
struct Event {
  Engine engine = Engine::Gdma;
  uint32_t index = 0;  // position in the engine's stream
  Opcode op = Opcode::End;
  uint64_t start = 0, end = 0;
};

struct RunOptions {
  bool functional = false;                  // untimed: plain loop, no SystemC
  bool keep_events = true;                  // timed mode: record RunResult::events
  uint64_t max_cycles = 1'000'000'000'000;  // watchdog on simulated time (timed mode)
};

struct RunResult {
  Stats stats;
  std::vector<Event> events;  // in completion order; empty in functional mode
};

// Run `p` on `a` over `mem` (grown with zeros to ddr_footprint() if shorter; LMEM must be
// lanes * lane_bytes or empty, then zero-filled). Throws Error: when the program was compiled
// for another architecture (naming both), on an invalid instruction (engine, index, mnemonic,
// reason), on deadlock (engines, indices, mnemonics and a state dump) or watchdog expiry.
// Timed runs share one SystemC kernel per process: run() serialises them (thread-safe, not
// parallel).
RunResult run(const Program& p, const Arch& a, DeviceMemory& mem, const RunOptions& opt = {});

}  // namespace tpusim::sim
