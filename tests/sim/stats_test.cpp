// Statistics agree with the program: MACs, traffic, instruction mix, per-engine time accounting,
// and the event log a trace writer reads.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sim/simulator.h"
#include "sim/timing.h"
#include "tests/support/sim_helpers.h"
#include "tests/support/sim_random_program.h"

using namespace tpusim;
using namespace simtest;

namespace {

// Load an input, two convs and a matmul over it, store the results.
Program small_network(const Arch& a) {
  const uint64_t bank = sim::bank_bytes(a);
  const ConvShape c1{1, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1}, c2{1, 16, 8, 8, 32, 1, 1, 2, 0, 1, 1};
  ops::Matmul mm;
  mm.m = 2, mm.k = 64, mm.n = 10, mm.src = int64_t(3 * bank), mm.weight = int64_t(bank),
  mm.dst = int64_t(2 * bank + 512);
  set_requant(mm, DType::Int8);
  return program(
      a,
      {load(DType::Int8, 1, 16, 8, 8, 0, 0, a.lanes), load(DType::Int8, 2, 64, 1, 1, 2048, 3 * bank, a.lanes),
       sync(3), store(DType::Int8, 1, 16, 8, 8, 2 * bank, 4096, a.lanes),
       store(DType::Int8, 2, 10, 1, 1, 2 * bank + 512, 8192, a.lanes), end()},
      {sync(1), conv(c1, 0, bank, 2 * bank).instr(), conv(c2, 0, bank, 2 * bank + 256).instr(), sync(2),
       mm.instr(), end()});
}

}  // namespace

TEST_CASE("stats: MACs, bytes, mix and time accounting add up", "[sim][stats]") {
  const Arch& a = arch_preset("default");
  const Program p = small_network(a);
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  const sim::RunResult r = sim::run(p, a, mem);
  const sim::Stats& s = r.stats;
  CHECK(s.macs == uint64_t(16 * 8 * 8 * 16 * 9 + 32 * 4 * 4 * 16 + 2 * 10 * 64));
  uint64_t macs = 0;
  for (const Instr& in : p.tiu) macs += sim::macs(in);
  CHECK(s.macs == macs);
  CHECK(s.ddr_read_bytes == 1024 + 128);
  CHECK(s.ddr_write_bytes == 1024 + 20);
  CHECK(s.opcode_counts.at("dma.load") == 2);
  CHECK(s.opcode_counts.at("dma.store") == 2);
  CHECK(s.opcode_counts.at("conv2d") == 2);
  CHECK(s.opcode_counts.at("matmul") == 1);
  CHECK(s.opcode_counts.at("sync") == 3);
  CHECK(s.opcode_counts.at("end") == 2);
  CHECK(s.engine(Engine::Gdma).instructions == p.gdma.size());
  CHECK(s.engine(Engine::Tiu).instructions == p.tiu.size());
  for (const sim::EngineStats& e : s.engines) CHECK(e.busy + e.waiting + e.idle == s.total_cycles);
  uint64_t tiu_busy = 0;
  for (const Instr& in : p.tiu) tiu_busy += sim::tiu_duration(in, a);
  CHECK(s.engine(Engine::Tiu).busy == tiu_busy);
  // The TIU's datapaths: the MAC array ran the convs and the matmul (the whole TIU busy time here);
  // the requant unit drained each one's output, pipelined, per requant_stage_cycles().
  CHECK(s.tiu_unit_busy.at("mac_array") == tiu_busy);
  CHECK(s.tiu_unit_busy.count("vector_unit") == 0);
  uint64_t drain = 0;
  for (const Instr& in : p.tiu) drain += sim::requant_stage_cycles(in, a);
  // conv1 16ch 8x8, conv2 32ch 4x4 (stride 2), matmul 10 columns x 2 rows; 16 lanes, 16 MACs/lane
  CHECK(drain == uint64_t(1 * 4 + 2 * 1 + 1 * 1));
  CHECK(s.tiu_unit_busy.at("requant_unit") == drain);
  CHECK(sim::to_json(s).at("tiu_units").at("requant_unit").at("busy") == drain);
  CHECK(s.ddr_bus_busy_cycles == (1024 + 128 + 1024 + 20 + 31) / 32 + 0);  // 32+4+32+1 beats
  CHECK(s.mac_utilization() == Approx(double(s.macs) / (double(s.total_cycles) * 256)));
  CHECK(s.mac_utilization() > 0);
  CHECK(s.mac_utilization() < 1);
  // An int4 x int4 MAC takes 1 / int4_speedup of a slot: 1,000 int4 MACs of 3,000 in 10 cycles of
  // a 256-MAC array at speedup 2 fill (2,000 + 500) / 2,560 of the slots.
  sim::Stats q;
  q.macs = 3000, q.macs_int4 = 1000, q.total_cycles = 10, q.peak_macs_per_cycle = 256, q.int4_speedup = 2;
  CHECK(q.mac_utilization() == Approx(2500.0 / 2560.0));

  const nlohmann::json j = sim::to_json(s);
  CHECK(j.at("total_cycles") == s.total_cycles);
  CHECK(j.at("engines").at("tiu").at("busy_cycles") == tiu_busy);
  CHECK(j.at("bytes").at("ddr_read") == 1152);
  CHECK(j.at("opcode_counts").at("conv2d") == 2);
  CHECK(j.at("mode") == "timed");
  const std::string table = sim::summary(s);
  CHECK_THAT(table, Catch::Contains("total") && Catch::Contains("gdma") && Catch::Contains("MACs 156928"));
}

TEST_CASE("functional mode counts the same work with no cycles", "[sim][stats]") {
  const Arch& a = arch_preset("default");
  const Program p = small_network(a);
  sim::DeviceMemory m1 = sim::prepare_memory(p, a), m2 = m1;
  const sim::Stats t = sim::run(p, a, m1).stats;
  sim::RunOptions fo;
  fo.functional = true;
  const sim::RunResult f = sim::run(p, a, m2, fo);
  CHECK(f.events.empty());
  CHECK(f.stats.total_cycles == 0);
  CHECK(f.stats.macs == t.macs);
  CHECK(f.stats.ddr_write_bytes == t.ddr_write_bytes);
  CHECK(f.stats.opcode_counts == t.opcode_counts);
  CHECK(f.stats.tiu_bank_conflicts == t.tiu_bank_conflicts);
  CHECK(m1.ddr == m2.ddr);
}

TEST_CASE("the event log covers every instruction, in order per engine", "[sim][stats]") {
  const Arch& a = arch_preset("edge");
  const RandomProgram rp = random_program(a, 42, 40);
  sim::DeviceMemory mem = sim::prepare_memory(rp.program, a);
  const sim::RunResult r = sim::run(rp.program, a, mem);
  CHECK(r.events.size() == rp.program.gdma.size() + rp.program.tiu.size());
  std::array<uint32_t, 2> next{0, 0};
  std::array<uint64_t, 2> free_at{0, 0};
  uint64_t last = 0;
  for (const sim::Event& e : r.events) {
    const int ei = static_cast<int>(e.engine);
    CHECK(e.index == next[ei]++);  // each stream completes in order
    CHECK(e.op == rp.program.stream(e.engine)[e.index].op);
    CHECK(e.start == free_at[ei]);  // no gaps: an engine is busy, waiting, or done
    CHECK(e.end >= e.start);
    if (e.op != Opcode::Sync && e.op != Opcode::End && e.engine == Engine::Tiu)
      CHECK(e.end - e.start == sim::tiu_duration(rp.program.tiu[e.index], a));
    free_at[ei] = e.end;
    last = std::max(last, e.end);
  }
  CHECK(last == r.stats.total_cycles);
  sim::RunOptions quiet;
  quiet.keep_events = false;
  sim::DeviceMemory mem2 = sim::prepare_memory(rp.program, a);
  const sim::RunResult q = sim::run(rp.program, a, mem2, quiet);
  CHECK(q.events.empty());
  CHECK(q.stats.total_cycles == r.stats.total_cycles);  // runs are independent and deterministic
}

TEST_CASE("stats: every TIU instruction runs on its datapath; the requant unit drains the others",
          "[sim][stats]") {
  const Arch& a = arch_preset("default");
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const Program p = simtest::random_program(a, seed, 40).program;
    sim::DeviceMemory mem = sim::prepare_memory(p, a);
    const sim::Stats s = sim::run(p, a, mem).stats;
    uint64_t want[3] = {0, 0, 0};  // mac_array, vector_unit, requant_unit
    for (const Instr& in : p.tiu) {
      if (spec(in.op).engine != Engine::Tiu) continue;
      const auto unit = static_cast<int>(sim::tiu_unit(in.op));
      want[unit] += sim::tiu_duration(in, a);
      if (sim::tiu_unit(in.op) != sim::TiuUnit::RequantUnit) want[2] += sim::requant_stage_cycles(in, a);
    }
    auto busy = [&](const char* unit) { return s.tiu_unit_busy.count(unit) ? s.tiu_unit_busy.at(unit) : 0; };
    CHECK(busy("mac_array") == want[0]);
    CHECK(busy("vector_unit") == want[1]);
    CHECK(busy("requant_unit") == want[2]);
    // The TIU is busy exactly while its MAC array, vector unit or (standalone) requant unit is.
    uint64_t standalone_requant = 0;
    for (const Instr& in : p.tiu)
      if (in.op == Opcode::Requant) standalone_requant += sim::tiu_duration(in, a);
    CHECK(s.engine(Engine::Tiu).busy == want[0] + want[1] + standalone_requant);
  }
}
