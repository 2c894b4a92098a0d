// The compiler's cost model (compiler/cycle_model.h) by hand: examples/conv_relu_pool.s replayed
// on every preset against docs/timing.md's formulas written out here, and against the timed
// simulator; a fragment without `end`; a sync that can never be released. (Every timed run of the
// back-end tests also requires replay == simulated cycles: tests/compiler/backend_helpers.h.)
#include "compiler/cycle_model.h"

#include <catch2/catch.hpp>

#include "base/error.h"
#include "base/file_io.h"
#include "isa/asm.h"
#include "sim/simulator.h"

using namespace tpusim;

namespace {

uint64_t up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

Program example(const Arch& a) {
  const std::string path = TPUSIM_SOURCE_DIR "/examples/conv_relu_pool.s";
  std::string text = read_file_text(path);
  text.replace(text.find(".arch default"), 13, ".arch " + a.name);
  return assemble(text, path);
}

}  // namespace

TEST_CASE("cycle model: conv_relu_pool.s by the formulas and as simulated", "[cycle_model]") {
  for (const Arch& a : arch_presets()) {
    INFO(a.name);
    const Program p = example(a);
    // GDMA: x (4x64 B), weights (8x36 B), bias (8 int32), rq (8 pairs of int32), then sync, store.
    const auto load = [&](uint64_t bytes) {
      return a.gdma_startup + a.ddr_latency + up(bytes, a.ddr_bytes_per_cycle);
    };
    const uint64_t loads = load(256) + load(288) + load(32) + load(64);
    // TIU: sync on the 4 loads, conv 3x3 4 -> 8 channels on 8x8, max pool 2x2 to 4x4.
    // Every operand lies in LMEM bank 0: the conv's 5 operands conflict in 10 pairs, the pool's 2 in 1.
    const uint64_t conv =
        a.tiu_startup + up(8, a.lanes) * up(4 * 9, a.macs_per_lane) * 64 + 10 * a.bank_conflict_cycles;
    const uint64_t pool =
        a.tiu_startup + up(8, a.lanes) * 16 * up(4, a.macs_per_lane) + a.bank_conflict_cycles;
    const uint64_t want = loads + conv + pool + load(128);
    const compiler::ReplayCycles r = compiler::replay_cycles(p.tiu, p.gdma, a);
    CHECK(r.total == want);
    CHECK(r.tiu_busy == conv + pool);
    CHECK(r.gdma_busy == loads + load(128));
    sim::DeviceMemory mem = sim::prepare_memory(p, a);
    CHECK(sim::run(p, a, mem).stats.total_cycles == r.total);
  }
}

TEST_CASE("cycle model: fragments and syncs that never release", "[cycle_model]") {
  const Arch& a = arch_preset("default");
  Program p = example(a);
  std::vector<Instr> gdma(p.gdma.begin(), p.gdma.begin() + 2);  // two loads, no end
  CHECK(compiler::replay_cycles({}, gdma, a).total == 2 * (a.gdma_startup + a.ddr_latency) +
                                                          up(256, a.ddr_bytes_per_cycle) +
                                                          up(288, a.ddr_bytes_per_cycle));
  // The TIU's first sync asks for 4 GDMA instructions, but only two exist.
  REQUIRE_THROWS_AS(compiler::replay_cycles(p.tiu, gdma, a), Error);
}
