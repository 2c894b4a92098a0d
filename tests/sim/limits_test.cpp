// The resource limits of a run (docs/reliability.md, "Resource limits"): memory beyond
// sim::kMaxDeviceBytes is refused before allocating, and the watchdog stops a run at max_cycles.
#include <catch2/catch.hpp>

#include "base/error.h"
#include "sim/simulator.h"
#include "tests/support/sim_helpers.h"

using namespace tpusim;
using namespace simtest;
using Catch::Contains;

TEST_CASE("a run needing more than kMaxDeviceBytes is refused before allocating", "[sim][limits]") {
  // 65535 lanes of 16 MiB: 1 TiB of LMEM, as an architecture YAML may declare.
  Arch big = arch_preset("edge");
  big.name = "huge";
  big.lanes = 65535;
  big.lane_bytes = uint32_t{1} << 24;
  const Program p = program(big, {end()}, {end()});
  REQUIRE_THROWS_WITH(sim::prepare_memory(p, big),
                      Contains("bytes of LMEM on 'huge'") && Contains("limit of 4294967296 bytes"));
  sim::DeviceMemory mem;
  REQUIRE_THROWS_WITH(sim::run(p, big, mem), Contains("limit of 4294967296 bytes"));
  CHECK(mem.lmem.empty());

  // A DMA reaching DDR beyond 4 GiB on a preset with a 1 TiB DDR.
  Arch wide = arch_preset("edge");
  wide.name = "wide";
  wide.ddr_bytes = uint64_t{1} << 40;
  const Program q =
      program(wide, {load(DType::Int8, 1, 8, 4, 4, uint64_t{5} << 30, 0, wide.lanes), end()}, {end()});
  REQUIRE_THROWS_WITH(sim::prepare_memory(q, wide), Contains("needs 5368709248 bytes of DDR"));

  // At the limit's scale but below it, a normal run still works.
  const Arch& edge = arch_preset("edge");
  const Program ok = program(edge, {load(DType::Int8, 1, 8, 4, 4, 0, 0, edge.lanes), end()}, {end()});
  sim::DeviceMemory m = sim::prepare_memory(ok, edge);
  CHECK(sim::run(ok, edge, m).stats.total_cycles > 0);
}

TEST_CASE("the watchdog stops a run at max_cycles with one error", "[sim][limits]") {
  const Arch& a = arch_preset("edge");
  std::vector<Instr> gdma;
  for (int i = 0; i < 50; ++i) gdma.push_back(load(DType::Int8, 1, 8, 16, 16, 0, 0, a.lanes));
  gdma.push_back(end());
  const Program p = program(a, gdma, {end()});
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  sim::RunOptions opt;
  opt.max_cycles = 1000;
  REQUIRE_THROWS_WITH(sim::run(p, a, mem, opt), Contains("watchdog") && Contains("max_cycles=1000"));
}
