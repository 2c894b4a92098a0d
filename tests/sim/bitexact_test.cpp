// Timed (SystemC) and functional runs of random valid programs leave identical DDR and LMEM
// contents, equal to executing the instructions serially; and they count the same work.
#include <catch2/catch.hpp>
#include <thread>

#include "sim/simulator.h"
#include "tests/support/sim_random_program.h"

using namespace tpusim;

namespace {

sim::DeviceMemory serial_reference(const simtest::RandomProgram& rp, const Arch& a) {
  sim::DeviceMemory mem = sim::prepare_memory(rp.program, a);
  ExecCounters counters;
  const MemView view{Geometry{a.lanes, a.lane_bytes, a.ddr_bytes}, mem.ddr, mem.lmem};
  for (const Instr& in : rp.serial) execute(in, view, counters);
  return mem;
}

}  // namespace

TEST_CASE("timed and functional runs of random programs are bit-exact", "[sim][bitexact]") {
  uint64_t programs = 0, instructions = 0, syncs = 0, overlapped = 0;
  for (const Arch& a : arch_presets()) {
    for (uint64_t seed = 1; seed <= 12; ++seed) {
      const simtest::RandomProgram rp = simtest::random_program(a, seed * 7919 + a.lanes, 40);
      INFO(a.name << " seed " << seed << ": " << rp.program.gdma.size() << " gdma + " << rp.program.tiu.size()
                  << " tiu instructions");
      sim::DeviceMemory timed = sim::prepare_memory(rp.program, a);
      sim::DeviceMemory functional = timed;
      const sim::RunResult rt = sim::run(rp.program, a, timed);
      sim::RunOptions fopt;
      fopt.functional = true;
      const sim::RunResult rf = sim::run(rp.program, a, functional, fopt);
      const sim::DeviceMemory expect = serial_reference(rp, a);
      REQUIRE(timed.ddr == functional.ddr);
      REQUIRE(timed.lmem == functional.lmem);
      REQUIRE(timed.ddr == expect.ddr);
      REQUIRE(timed.lmem == expect.lmem);
      CHECK(rt.stats.macs == rf.stats.macs);
      CHECK(rt.stats.acc_overflows == rf.stats.acc_overflows);
      CHECK(rt.stats.ddr_read_bytes == rf.stats.ddr_read_bytes);
      CHECK(rt.stats.lmem_write_bytes == rf.stats.lmem_write_bytes);
      CHECK(rt.stats.opcode_counts == rf.stats.opcode_counts);
      CHECK(rt.stats.lmem_hazards == 0);  // every conflicting pair is synchronised
      ++programs;
      instructions += rp.serial.size();
      syncs += rt.stats.opcode_counts.count("sync") ? rt.stats.opcode_counts.at("sync") : 0;
      overlapped +=
          rt.stats.total_cycles < rt.stats.engine(Engine::Gdma).busy + rt.stats.engine(Engine::Tiu).busy;
    }
  }
  // The generator must really exercise the model: many instructions, syncs, and some concurrency.
  CHECK(programs == 36);
  CHECK(instructions > programs * 15);
  CHECK(syncs > programs * 3);
  CHECK(overlapped > programs / 4);
}

TEST_CASE("runs from several threads share the kernel safely and match sequential runs", "[sim][bitexact]") {
  const Arch& a = arch_preset("edge");
  std::vector<simtest::RandomProgram> progs;
  std::vector<sim::DeviceMemory> expect;
  std::vector<uint64_t> cycles;
  for (uint64_t seed = 100; seed < 104; ++seed) {
    progs.push_back(simtest::random_program(a, seed, 30));
    expect.push_back(sim::prepare_memory(progs.back().program, a));
    cycles.push_back(sim::run(progs.back().program, a, expect.back()).stats.total_cycles);
  }
  std::vector<sim::DeviceMemory> got(progs.size());
  std::vector<uint64_t> got_cycles(progs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < progs.size(); ++i)
    threads.emplace_back([&, i] {
      for (bool functional : {false, true}) {
        sim::DeviceMemory mem = sim::prepare_memory(progs[i].program, a);
        sim::RunOptions opt;
        opt.functional = functional;
        const sim::RunResult r = sim::run(progs[i].program, a, mem, opt);
        if (!functional) got_cycles[i] = r.stats.total_cycles;
        got[i] = std::move(mem);
      }
    });
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < progs.size(); ++i) {
    CHECK(got[i].ddr == expect[i].ddr);
    CHECK(got[i].lmem == expect[i].lmem);
    CHECK(got_cycles[i] == cycles[i]);
  }
}
