// Random integer graphs for the back end, and the check that a compiled graph, run on the
// simulator, writes exactly what the integer reference computes. Shared by the back-end tests
// (tests/compiler/backend_helpers.h, backend_graphs_test.cpp) and the differential fuzz target
// (fuzz/fuzz_graph_diff.cpp); no Catch2 here.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "compiler/backend.h"
#include "compiler/int_interp.h"
#include "sim/simulator.h"

namespace betest {
using namespace tpusim;
using namespace tpusim::compiler;

// Random single-layer graphs: the pieces.
using Rng = std::mt19937;
inline int64_t pick(Rng& r, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(r);
}

DType act_type(Rng& r);
ITensor tensor(const std::string& name, Shape s, DType t, Rng& r);
RequantSpec requant(Rng& r, int64_t channels, double base, const ITensor& y);

// A chain of 2-7 random ops (conv: dense, grouped, depthwise, int4 weights; pools, residual
// eltwise adds, channel concats, lut and requant ops), sometimes a flatten view and fully connected
// layers at the end, with 8- and 4-bit activations and odd sizes. `big`: 40-96 channels of 20-30
// pixels square.
IntGraph random_graph(Rng& r, bool big);

struct BitexactResult {
  sim::Stats stats;
  CompileReport report;
  int64_t tensors_compared = 0;
  std::string mismatch;        // "" when every compared tensor is equal; else the first difference
  uint64_t replay_cycles = 0;  // timed runs: the compiler's cycle model of the program (cycle_model.h)
};

// Compiles g with schedule `opt`, runs it on random inputs (from `seed`) and compares every tensor
// the program writes to DDR (with opt 0 every intermediate; with the resident schedule those kept
// only in LMEM are skipped) and every output with run_int. Compile and run errors propagate.
BitexactResult run_bitexact(const IntGraph& g, const Arch& a, bool timed, uint32_t seed, int opt);

}  // namespace betest
