// The compiler back end, v1: IntGraph + Arch -> Program (.tpu). DDR allocation (ddr_alloc.h),
// per-op tiling (tiling.h) and code generation with GDMA/TIU syncs and ping/pong double buffering
// (codegen.h). The simulator's outputs equal run_int's bit for bit (docs/compiler.md, "Back end").
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compiler/int_graph.h"
#include "isa/arch.h"
#include "isa/program.h"

namespace tpusim::compiler {

// One IR op's schedule: its work, traffic, tiling and the instruction ranges it produced.
struct ScheduleLayer {
  std::string name, kind;
  uint64_t macs = 0;
  uint64_t ddr_bytes = 0;      // bytes moved by its DMAs (loads + stores)
  double roofline_cycles = 0;  // max(macs / peak, ddr_bytes / ddr_bytes_per_cycle)
  int64_t tiles = 0;
  bool double_buffered = false;
  uint64_t lmem_bytes_per_lane = 0;                                   // buffer sets in use
  uint32_t gdma_begin = 0, gdma_end = 0, tiu_begin = 0, tiu_end = 0;  // [begin, end) stream indices
  // The resident schedule (opt >= 1): one tile in buffers kept across ops; its first input read
  // from the producer's LMEM buffer; its output written to DDR; its constants' bytes loaded while
  // earlier ops ran (their instructions lie in those ops' ranges).
  bool resident = false, kept_input = false, stored = true;
  bool group = false;  // one op of a layer group sliced along rows (its tiles = the slices)
  // A group's eltwise whose other input (a skip connection) it read from the group's LMEM.
  bool skip_from_lmem = false;
  uint64_t prefetched_bytes = 0;
  uint32_t prefetch_begin = 0, prefetch_end = 0;  // GDMA range of those loads
  // Resident: its output's LMEM buffer (per-lane byte offset and size) and the last layer that
  // reads it from there: the tensor's lifetime in LMEM is [this layer, live_until].
  uint64_t out_lmem = 0, out_lmem_bytes = 0;
  std::string out_live_until;
  // Filled by the caller after a timed simulation (0 = not simulated).
  uint64_t sim_cycles = 0;
  double efficiency = 0;  // roofline_cycles / sim_cycles
};

// Schedules (docs/compiler.md, "Schedules"): 0 = every op tiled on its own, its input loaded from
// and its output stored to DDR; 1 = runs of ops that fit LMEM whole keep activations there and
// prefetch the next ops' constants, layer groups chosen greedily by an estimate; 2 = 1 with the
// layer groups chosen by a search over cut points costed by the cycle model (cycle_model.h).
inline constexpr int kMaxOpt = 2;
inline constexpr int kDefaultOpt = 2;

struct CompileReport {
  std::string arch;
  int opt = kDefaultOpt;
  std::vector<ScheduleLayer> layers;
  // DDR address of every non-view tensor (intermediates included), for dumps and tests.
  std::map<std::string, uint64_t> tensor_addr;
  uint64_t ddr_bytes = 0;   // DDR footprint (activations + constants)
  uint64_t sim_cycles = 0;  // with fill_sim_cycles: the whole run (layers' spans may overlap)
  // Layer (index into `layers`) of every GDMA / TIU instruction, -1 for none (the ends).
  std::vector<int32_t> gdma_owner, tiu_owner;
  // Layer groups: ops [first, last], the compiler's cycle estimate and (fill_sim_cycles) the
  // simulated span of all their instructions.
  struct Group {
    size_t first = 0, last = 0;
    int64_t slices = 0;
    double estimated_cycles = 0;
    uint64_t sim_cycles = 0;
    uint64_t ddr_bytes = 0;  // moved by its layers' DMAs (their ddr_bytes summed)
  };
  std::vector<Group> groups;
  nlohmann::json to_json() const;
};

// When one instruction ran, in cycles (a timed simulation's events, converted by the caller so
// the compiler does not depend on the simulator).
struct InstrTime {
  Engine engine = Engine::Gdma;
  uint32_t index = 0;
  uint64_t start = 0, end = 0;
};
// Per layer: sim_cycles = last end - first start over its instructions (its prefetched constant
// loads included), efficiency = roofline / sim_cycles (0 when the roofline is 0: a layer that
// neither multiplies nor moves DDR bytes); the report's sim_cycles = the whole run.
void fill_sim_cycles(CompileReport& r, const std::vector<InstrTime>& times);

// Throws tpusim::Error naming the op when it cannot be compiled (e.g. no tiling fits LMEM).
Program compile_int_graph(const IntGraph& g, const Arch& arch, CompileReport* report = nullptr,
                          int opt = kDefaultOpt);

// A TensorDesc for any tensor of the graph (views resolve to their storage address), so tests can
// read intermediates with sim::read_tensor.
TensorDesc tensor_desc(const IntGraph& g, const CompileReport& r, const std::string& name);

}  // namespace tpusim::compiler
