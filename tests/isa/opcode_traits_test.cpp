// The per-opcode traits tables (isa/opcode_traits_semantics.h, sim/timing.cpp), opcode by opcode,
// in the manner of ggml's test-quantize-fns: every opcode has its traits and they agree with the
// ISA table, and every GDMA/TIU opcode's two kernel sets leave bit-identical memory and counters
// on random valid instructions. That an opcode without traits does not compile is shown by
// opcode_traits_compile_fail.cmake.
#include <array>
#include <catch2/catch.hpp>
#include <map>

#include "isa/opcode_traits_semantics.h"
#include "sim/simulator.h"
#include "sim/timing.h"
#include "tests/support/sim_random_program.h"

using namespace tpusim;

namespace {

constexpr std::array<Kernels, 2> kKernelSets{Kernels::Reference, Kernels::Fast};

bool same_counters(const ExecCounters& a, const ExecCounters& b) {
  return a.macs == b.macs && a.macs_int4 == b.macs_int4 && a.acc_overflows == b.acc_overflows &&
         a.ddr_read == b.ddr_read && a.ddr_written == b.ddr_written && a.lmem_read == b.lmem_read &&
         a.lmem_written == b.lmem_written;
}

// Random valid programs over every preset (the simulator tests' generator), in emission order.
struct Sample {
  const Arch* arch;
  simtest::RandomProgram rp;
};
const std::vector<Sample>& samples() {
  static const std::vector<Sample> all = [] {
    std::vector<Sample> s;
    for (const Arch& a : arch_presets())
      for (uint64_t seed = 1; seed <= 8; ++seed)
        s.push_back({&a, simtest::random_program(a, seed * 7877 + a.lanes, 40)});
    return s;
  }();
  return all;
}

}  // namespace

TEST_CASE("traits: every opcode has a semantics row that agrees with the ISA table", "[traits]") {
  for (int i = 0; i < kNumOps; ++i) {
    const OpSpec& s = kOpSpecs[i];
    INFO(s.mnemonic);
    CHECK(op_index(s.op) == i);
    const sem::OpSemantics& t = sem::semantics_of(s.op);
    CHECK(t.op == s.op);
    const bool runs = s.engine != Engine::Sys;  // end and sync are the controller's
    CHECK((t.operands != nullptr) == runs);
    CHECK((t.check != nullptr) == runs);
    CHECK((t.reference != nullptr) == runs);
    CHECK((t.fast != nullptr) == runs);
    if (t.in_place) CHECK(s.engine == Engine::Tiu);
  }
  for (int id = 0; id < 256; ++id)
    if (find_spec(static_cast<uint8_t>(id)) == nullptr) {
      INFO("id " << id);
      CHECK(op_index(static_cast<Opcode>(id)) == -1);
      CHECK(sem::semantics_of(static_cast<Opcode>(id)).reference == nullptr);
    }
}

TEST_CASE("traits: every opcode's timing agrees with its engine: DMA phases, TIU datapath, MACs",
          "[traits]") {
  std::map<Opcode, const Instr*> example;
  std::map<Opcode, const Arch*> arch;
  for (const Sample& s : samples())
    for (const auto* stream : {&s.rp.program.gdma, &s.rp.program.tiu})
      for (const Instr& in : *stream)
        if (example.emplace(in.op, &in).second) arch[in.op] = s.arch;
  for (const OpSpec& s : kOpSpecs) {
    INFO(s.mnemonic);
    REQUIRE(example.count(s.op));
    const Instr& in = *example[s.op];
    const Arch& a = *arch[s.op];
    if (s.engine == Engine::Tiu) {
      const sim::TiuUnit unit = sim::tiu_unit(s.op);
      CHECK(std::string(sim::tiu_unit_name(unit)) != "?");
      CHECK(sim::cycles(in, a) > a.tiu_startup);
      CHECK(sim::requant_stage_cycles(in, a) > 0);
      CHECK((sim::macs(in) > 0) == (unit == sim::TiuUnit::MacArray));
    } else {
      CHECK(sim::requant_stage_cycles(in, a) == 0);
      CHECK(sim::macs(in) == 0);
    }
    const sim::DmaPhases p = sim::dma_phases(in, a);
    if (s.engine == Engine::Gdma) {
      CHECK(p.startup == a.gdma_startup);
      CHECK((p.bus_bytes > 0) != (p.copy_cycles > 0));  // across the DDR bus or within LMEM
      CHECK(sim::cycles(in, a) > a.gdma_startup);
    } else {
      CHECK((p.startup == 0 && p.latency == 0 && p.bus_bytes == 0 && p.copy_cycles == 0));
    }
    if (s.engine == Engine::Sys) CHECK(sim::cycles(in, a) == 0);
  }
}

TEST_CASE("traits: every opcode x both kernel sets, bit-identical on random valid instructions", "[traits]") {
  // Both images run every instruction, one per kernel set; compared after each instruction.
  std::map<Opcode, uint64_t> compared;
  for (const Sample& s : samples()) {
    const Arch& a = *s.arch;
    const Geometry geo = sim::geometry(a);
    std::array<sim::DeviceMemory, 2> mem;
    mem.fill(sim::prepare_memory(s.rp.program, a));
    std::array<ExecCounters, 2> counters{};
    for (const Instr& in : s.rp.serial) {
      INFO(a.name << ": " << spec(in.op).mnemonic);
      for (size_t k = 0; k < kKernelSets.size(); ++k)
        execute(in, MemView{geo, mem[k].ddr, mem[k].lmem}, counters[k], kKernelSets[k]);
      REQUIRE((mem[0].lmem == mem[1].lmem));  // parenthesised: no 512 KiB dumps
      REQUIRE((mem[0].ddr == mem[1].ddr));
      REQUIRE(same_counters(counters[0], counters[1]));
      ++compared[in.op];
    }
  }
  for (const OpSpec& s : kOpSpecs) {
    INFO(s.mnemonic << ": " << compared[s.op] << " instructions compared");
    if (s.engine != Engine::Sys) {
      CHECK(compared[s.op] >= 10);
      continue;
    }
    // end and sync (never in rp.serial) touch nothing, whichever kernel set.
    Instr in;
    in.op = s.op;
    std::vector<uint8_t> lmem(64, 0x5a), ddr(64, 0xa5);
    const std::vector<uint8_t> lmem0 = lmem, ddr0 = ddr;
    for (Kernels k : kKernelSets) {
      ExecCounters c;
      execute(in, MemView{Geometry{4, 16, 64}, ddr, lmem}, c, k);
      CHECK(same_counters(c, ExecCounters{}));
    }
    CHECK((lmem == lmem0 && ddr == ddr0));
  }
}
