// Helpers for the back-end tests: compile an IntGraph, run it on the simulator with random
// quantized inputs, and compare every DDR tensor (inputs, intermediates, outputs) with run_int.
#pragma once
#include <catch2/catch.hpp>
#include <string>

#include "tests/support/random_graph.h"

namespace betest {

inline IntGraph one_op(const std::vector<ITensor>& ins, const ITensor& y, IOpKind kind, RequantSpec rq) {
  IntGraph g;
  g.source = "layer";
  IOp op;
  op.name = "layer";
  op.sources = {"layer"};
  for (const ITensor& t : ins) {
    g.tensors[t.name] = t;
    g.inputs.push_back(t.name);
    g.float_inputs.push_back(t.name + "_f");
    op.inputs.push_back(t.name);
  }
  g.tensors[y.name] = y;
  op.output = y.name;
  op.kind = std::move(kind);
  op.rq = std::move(rq);
  g.ops.push_back(op);
  g.outputs = {y.name};
  g.float_outputs = {"y_f"};
  return g;
}

// Compiles g with schedule `opt`, runs it on random inputs and checks every tensor the program
// writes to DDR (with opt 0 every intermediate; with the resident schedule those kept only in LMEM
// are skipped) and every output against the integer reference (run_bitexact,
// tests/support/random_graph.h). Timed: the compiler's cycle model (compiler/cycle_model.h) must
// give the simulated cycles exactly.
inline BitexactResult check_bitexact_opt(const IntGraph& g, const Arch& a, bool timed, uint32_t seed,
                                         int opt) {
  BitexactResult res = run_bitexact(g, a, timed, seed, opt);
  INFO(res.mismatch);
  REQUIRE(res.mismatch.empty());
  if (timed) REQUIRE(res.replay_cycles == res.stats.total_cycles);  // the cost model is the timed model
  return res;
}

// Both schedules bit-exact; returns the per-op tiled schedule's (opt 0) result, whose tiling the
// callers inspect.
inline BitexactResult check_bitexact(const IntGraph& g, const Arch& a, bool timed, uint32_t seed) {
  check_bitexact_opt(g, a, timed, seed, kMaxOpt);
  return check_bitexact_opt(g, a, timed, seed, 0);
}

}  // namespace betest
