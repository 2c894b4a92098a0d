// Concurrency of the two engines: a double-buffered program (GDMA loads tile k+1 while the TIU
// convolves tile k) overlaps; one where each side waits for the other takes exactly the sum.
#include <catch2/catch.hpp>

#include "sim/simulator.h"
#include "sim/timing.h"
#include "tests/support/sim_helpers.h"

using namespace tpusim;
using namespace simtest;

namespace {

constexpr int kTiles = 4;
const ConvShape kTile{1, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1};

// Tile k's input at LMEM offset 64k (bank 0), weights in bank 1, tile k's output at bank 2 + 64k.
struct Tiles {
  const Arch& a;
  uint64_t bank = sim::bank_bytes(a);
  Instr load_tile(int k) const { return load(DType::Int8, 1, 16, 8, 8, 1024 * k, 64 * k, a.lanes); }
  Instr conv_tile(int k) const { return conv(kTile, 64 * k, bank, 2 * bank + 64 * k).instr(); }
};

sim::RunResult run_timed(const Program& p, const Arch& a) {
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  return sim::run(p, a, mem);
}

}  // namespace

TEST_CASE("GDMA loading tile k+1 while the TIU computes tile k overlaps", "[sim][overlap]") {
  const Arch& a = arch_preset("default");
  const Tiles t{a};
  const uint64_t L = sim::cycles(t.load_tile(0), a), C = sim::tiu_duration(t.conv_tile(0), a);
  REQUIRE(L == 20 + 100 + 1024 / 32);
  REQUIRE(C == 10 + 1 * 9 * 64);
  std::vector<Instr> gdma, tiu;
  for (int k = 0; k < kTiles; ++k) {
    gdma.push_back(t.load_tile(k));
    tiu.push_back(sync(k + 1));  // load k is GDMA instruction k
    tiu.push_back(t.conv_tile(k));
  }
  gdma.push_back(end());
  tiu.push_back(end());
  const sim::RunResult r = run_timed(program(a, gdma, tiu), a);
  // C > L: the TIU waits only for the first tile, then convolves back to back.
  CHECK(r.stats.total_cycles == L + kTiles * C);
  CHECK(r.stats.total_cycles < kTiles * (L + C));
  const sim::EngineStats& g = r.stats.engine(Engine::Gdma);
  const sim::EngineStats& u = r.stats.engine(Engine::Tiu);
  CHECK(g.busy == kTiles * L);
  CHECK(g.waiting == 0);
  CHECK(u.busy == kTiles * C);
  CHECK(u.waiting == L);
  CHECK(u.idle == 0);
  // Loads of later tiles run while the TIU reads bank 0: counted as overlaps, not penalised.
  CHECK(r.stats.gdma_tiu_bank_overlaps >= 1);
  CHECK(r.stats.lmem_hazards == 0);
}

TEST_CASE("when each side waits for the other the run takes exactly the sum", "[sim][overlap]") {
  const Arch& a = arch_preset("default");
  const Tiles t{a};
  const uint64_t L = sim::cycles(t.load_tile(0), a), C = sim::tiu_duration(t.conv_tile(0), a);
  // GDMA: load0, sync(tiu>=2), load1, sync(tiu>=4), ...  TIU: sync(gdma>=1), conv0, sync(gdma>=3), conv1, ...
  std::vector<Instr> gdma, tiu;
  for (int k = 0; k < kTiles; ++k) {
    gdma.push_back(t.load_tile(k));
    if (k + 1 < kTiles) gdma.push_back(sync(2 * (k + 1)));
    tiu.push_back(sync(2 * k + 1));
    tiu.push_back(t.conv_tile(k));
  }
  gdma.push_back(end());
  tiu.push_back(end());
  const sim::RunResult r = run_timed(program(a, gdma, tiu), a);
  CHECK(r.stats.total_cycles == kTiles * (L + C));
  CHECK(r.stats.engine(Engine::Gdma).waiting == (kTiles - 1) * C);
  CHECK(r.stats.engine(Engine::Tiu).waiting == kTiles * L);
  CHECK(r.stats.gdma_tiu_bank_overlaps == 0);
  // The event log shows strict alternation: every TIU conv starts when the load before it ends.
  uint64_t last_end = 0;
  for (const sim::Event& e : r.events) {
    if (e.op == Opcode::Sync || e.op == Opcode::End) continue;
    CHECK(e.start == last_end);
    last_end = e.end;
  }
  CHECK(last_end == r.stats.total_cycles);
}

TEST_CASE("an unsynchronised load into a tile being convolved is reported as a hazard", "[sim][overlap]") {
  const Arch& a = arch_preset("default");
  const Tiles t{a};
  // The second load overwrites tile 0 while the TIU still reads it: no sync orders them.
  Program p = program(a, {t.load_tile(0), t.load_tile(0), end()}, {sync(1), t.conv_tile(0), end()});
  const sim::RunResult r = run_timed(p, a);
  CHECK(r.stats.lmem_hazards == 1);
  CHECK(r.stats.gdma_tiu_bank_overlaps == 1);
}
