// Differential, structure-aware: valid random programs (tests/support/sim_random_program.h: loads,
// convs, matmuls, pools, eltwise, requants with random multipliers and zero points, luts, copies,
// stores over shared LMEM slots, with every cross-engine dependency synchronised and random extra
// syncs) run timed (SystemC), functionally, and serially through the instruction semantics; all
// three must leave the same DDR and LMEM, and the two simulator modes must count the same work.
// The input chooses the preset, the length (1-40 steps) and the generator's seed.
#include "fuzz/fuzz_common.h"
#include "sim/simulator.h"
#include "tests/support/sim_random_program.h"

using namespace tpusim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader r(data, size);
  const std::vector<Arch>& presets = arch_presets();
  // Programs on the largest preset take a second each under the sanitizers: 1 in 8.
  const uint8_t choice = r.byte() % 8;
  const Arch& a = presets[choice == 7 ? presets.size() - 1 : choice % (presets.size() - 1)];
  const int ops = r.pick(1, 40);
  const simtest::RandomProgram rp = simtest::random_program(a, r.u64(), ops);

  sim::DeviceMemory timed = sim::prepare_memory(rp.program, a);
  sim::DeviceMemory functional = timed, serial = timed;
  sim::RunOptions topt;
  topt.keep_events = false;
  const sim::RunResult rt = sim::run(rp.program, a, timed, topt);
  sim::RunOptions fopt;
  fopt.functional = true;
  const sim::RunResult rf = sim::run(rp.program, a, functional, fopt);
  ExecCounters counters;
  const MemView view{Geometry{a.lanes, a.lane_bytes, a.ddr_bytes}, serial.ddr, serial.lmem};
  for (const Instr& in : rp.serial) execute(in, view, counters);

  fuzz::fuzz_check(timed.ddr == functional.ddr && timed.lmem == functional.lmem,
                   "timed != functional memory");
  fuzz::fuzz_check(timed.ddr == serial.ddr && timed.lmem == serial.lmem, "simulator != serial semantics");
  fuzz::fuzz_check(rt.stats.macs == rf.stats.macs && rt.stats.macs == counters.macs, "MAC counts differ");
  fuzz::fuzz_check(rt.stats.opcode_counts == rf.stats.opcode_counts, "opcode counts differ");
  fuzz::fuzz_check(rt.stats.ddr_read_bytes == rf.stats.ddr_read_bytes, "DDR read bytes differ");
  fuzz::fuzz_check(rt.stats.lmem_hazards == 0, "an unsynchronised LMEM hazard in a generated program");
  return 0;
}
