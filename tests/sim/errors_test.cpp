// Runs that must stop with one clear tpusim::Error, in both modes, and leave the simulator usable.
#include <catch2/catch.hpp>

#include "base/error.h"
#include "sim/simulator.h"
#include "tests/support/sim_helpers.h"

using namespace tpusim;
using namespace simtest;
using Catch::Contains;

namespace {

void run_mode(const Program& p, const Arch& a, bool functional, uint64_t max_cycles = 1'000'000) {
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  sim::RunOptions opt;
  opt.functional = functional;
  opt.max_cycles = max_cycles;
  sim::run(p, a, mem, opt);
}

// A small valid run, to show the kernel still works after an error.
uint64_t healthy_run(const Arch& a) {
  Program p = program(a, {load(DType::Int8, 1, 8, 4, 4, 0, 0, a.lanes), end()}, {sync(1), end()});
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  return sim::run(p, a, mem).stats.total_cycles;
}

}  // namespace

TEST_CASE("both engines waiting on each other is a deadlock naming both", "[sim][errors]") {
  const Arch& a = arch_preset("edge");
  const Program p =
      program(a, {load(DType::Int8, 1, 8, 4, 4, 0, 0, a.lanes), sync(2), end()}, {sync(2), end()});
  for (bool functional : {false, true}) {
    INFO((functional ? "functional" : "timed"));
    REQUIRE_THROWS_WITH(run_mode(p, a, functional),
                        Contains("deadlock") && Contains("gdma instruction 1 (sync count=2)") &&
                            Contains("tiu instruction 0 (sync count=2)") && Contains("engine state") &&
                            Contains("gdma: pc=1 completed=1") && Contains("tiu: pc=0 completed=0"));
  }
  CHECK(healthy_run(a) == 20 + 80 + 128 / 8);
}

TEST_CASE("a sync for more instructions than the other stream has is a deadlock", "[sim][errors]") {
  const Arch& a = arch_preset("default");
  const Program p = program(a, {load(DType::Int8, 1, 8, 4, 4, 0, 0, a.lanes), end()}, {sync(5), end()});
  for (bool functional : {false, true}) {
    INFO((functional ? "functional" : "timed"));
    REQUIRE_THROWS_WITH(run_mode(p, a, functional), Contains("tiu instruction 0 (sync count=5)") &&
                                                        Contains("gdma ended after 2") &&
                                                        Contains("tiu: pc=0 completed=0 blocked"));
  }
  CHECK(healthy_run(a) > 0);
}

TEST_CASE("out-of-bounds operands are refused before time starts, naming the instruction", "[sim][errors]") {
  const Arch& a = arch_preset("edge");
  const Program lane_overflow =
      program(a, {load(DType::Int8, 1, 8, 4, 4, 0, a.lane_bytes - 8, a.lanes), end()}, {end()});
  const Program ddr =
      program(a, {load(DType::Int8, 1, 8, 4, 4, a.ddr_bytes - 16, 0, a.lanes), end()}, {end()});
  for (bool functional : {false, true}) {
    REQUIRE_THROWS_WITH(run_mode(lane_overflow, a, functional),
                        Contains("gdma instruction 0 (dma.load)") && Contains("exceeds lane size"));
    REQUIRE_THROWS_WITH(run_mode(ddr, a, functional),
                        Contains("gdma instruction 0 (dma.load)") && Contains("exceeds DDR size"));
  }
}

TEST_CASE("a program compiled for another architecture is refused, naming both", "[sim][errors]") {
  const Program p = program(arch_preset("edge"), {end()}, {end()});
  sim::DeviceMemory mem;
  REQUIRE_THROWS_WITH(sim::run(p, arch_preset("server"), mem),
                      Contains("compiled for architecture 'edge'") && Contains("runs 'server'"));
  Arch tweaked = arch_preset("edge");
  tweaked.ddr_latency += 1;  // same name, other parameters: still another architecture
  REQUIRE_THROWS_WITH(sim::run(p, tweaked, mem), Contains("fingerprint"));
}

TEST_CASE("stream defects: wrong engine, no end", "[sim][errors]") {
  const Arch& a = arch_preset("default");
  const ConvShape s{1, 16, 4, 4, 16, 1, 1, 1, 0, 1, 1};
  REQUIRE_THROWS_WITH(run_mode(program(a, {conv(s, 0, 8192, 16384).instr(), end()}, {end()}), a, false),
                      Contains("gdma instruction 0 (conv2d): a tiu instruction in the gdma stream"));
  REQUIRE_THROWS_WITH(run_mode(program(a, {end()}, {sync(1)}), a, true), Contains("tiu stream has no end"));
}

TEST_CASE("a failing instruction stops the timed run with its name, the kernel stays usable",
          "[sim][errors]") {
  const Arch& a = arch_preset("default");
  ops::Conv2d c = conv({1, 16, 4, 4, 16, 1, 1, 1, 0, 1, 1}, 0, 8192, 16384);
  c.rq_per_channel = 1;  // the table at offset 24576 holds zeros: M0 = 0 is invalid at run time
  c.rq = 24576;
  const Program p = program(a, {end()}, {c.instr(), end()});
  for (bool functional : {false, true})
    REQUIRE_THROWS_WITH(run_mode(p, a, functional),
                        Contains("tiu instruction 0 (conv2d)") && Contains("rq table"));
  CHECK(healthy_run(a) == 20 + 100 + 128 / 32);
}

TEST_CASE("the watchdog stops a run that passes max_cycles", "[sim][errors]") {
  const Arch& a = arch_preset("default");
  const Instr ld = load(DType::Int8, 1, 16, 32, 32, 0, 0, a.lanes);
  const Program p = program(a, {ld, ld, ld, end()}, {end()});  // 632 cycles each: stops before the 2nd
  REQUIRE_THROWS_WITH(run_mode(p, a, false, 200), Contains("watchdog") && Contains("max_cycles=200") &&
                                                      Contains("gdma instruction 1 (dma.load)"));
  CHECK(healthy_run(a) > 0);
}

TEST_CASE("tensor helpers check counts, ranges and placement", "[sim][errors]") {
  const Arch& a = arch_preset("edge");
  Program p = program(a, {end()}, {end()});
  TensorDesc t{"x", {1, 2, 1, 3}, DType::Int4, 1.0f, 0, 16};
  p.inputs.push_back(t);
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  REQUIRE(mem.ddr.size() == 16 + 3);  // 6 int4 values pack into 3 bytes
  const std::vector<int32_t> v{-8, 7, 0, 1, -1, 3};
  sim::write_tensor(mem, t, v);
  CHECK(sim::read_tensor(mem, t) == v);
  CHECK(mem.ddr[16] == 0x78);  // -8 in the low nibble, 7 in the high one
  REQUIRE_THROWS_WITH(sim::write_tensor(mem, t, std::vector<int32_t>{1, 2}),
                      Contains("'x': expected 6 values, got 2"));
  REQUIRE_THROWS_WITH(sim::write_tensor(mem, t, std::vector<int32_t>{0, 0, 0, 8, 0, 0}),
                      Contains("value 8 at element 3 is outside int4"));
  t.ddr_addr = 1000;
  REQUIRE_THROWS_WITH(sim::read_tensor(mem, t), Contains("tensor 'x'") && Contains("outside"));
}
