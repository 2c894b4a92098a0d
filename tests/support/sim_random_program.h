// Random valid programs for the bit-exactness tests: loads, convs (with weight and bias loads),
// matmuls, pools, eltwise, requants, copies and stores over a few reused LMEM slots. Every
// cross-engine dependency (LMEM footprints sharing bytes, one of them written) gets a sync, plus
// random extra syncs; all syncs wait only for instructions emitted earlier, so the program cannot
// deadlock and its result equals running its instructions serially in emission order.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "isa/program.h"
#include "isa/semantics.h"

namespace simtest {

struct RandomProgram {
  tpusim::Program program;
  std::vector<tpusim::Instr> serial;  // dma/TIU instructions in emission order (the reference)
};

// `ops` generation steps on architecture `a`; DDR holds 32 KiB of random input data at 0 and an
// output region [32 KiB, 64 KiB) described as output "ddr_out".
RandomProgram random_program(const tpusim::Arch& a, uint64_t seed, int ops);

}  // namespace simtest
