// Differential, structure-aware: random small integer graphs (tests/support/random_graph.h, the
// generator of the back-end tests: conv, pool, residual add/max, concat, lut, requant, flatten, fully
// connected; 8- and 4-bit) compiled for a preset with either schedule and run on the simulator
// (functional or timed) must write exactly what the integer reference computes, on every tensor
// stored to DDR. The back end must accept every graph the generator makes (as the tests require).
// The input chooses the seed, the preset, the schedule and the mode.
#include "fuzz/fuzz_common.h"
#include "tests/support/random_graph.h"

using namespace tpusim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader r(data, size);
  const uint8_t mode = r.byte();
  const uint32_t seed = static_cast<uint32_t>(r.u64());
  betest::Rng rng(seed);
  const compiler::IntGraph g = betest::random_graph(rng, false);
  const std::vector<Arch>& presets = arch_presets();
  const Arch& a = presets[mode % presets.size()];
  const int opt = (mode >> 2) & 1 ? compiler::kMaxOpt : 0;
  const bool timed = (mode >> 3) & 1;
  try {
    const betest::BitexactResult res = betest::run_bitexact(g, a, timed, seed, opt);
    fuzz::fuzz_check(res.mismatch.empty(), "simulator != run_int: " + res.mismatch);
  } catch (const Error& e) {
    fuzz::fail(std::string("the back end refused a generated graph: ") + e.what());
  }
  return 0;
}
