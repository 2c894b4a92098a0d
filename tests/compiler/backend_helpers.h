// Helpers for the back-end tests: compile an IntGraph, run it on the simulator with random
// quantized inputs, and compare every DDR tensor (inputs, intermediates, outputs) with run_int.
#pragma once
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <string>

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

inline DType act_type(Rng& r) {
  const int v = static_cast<int>(pick(r, 0, 9));
  return v < 5 ? DType::Int8 : v < 8 ? DType::UInt8 : v < 9 ? DType::Int4 : DType::UInt4;
}

inline ITensor tensor(const std::string& name, Shape s, DType t, Rng& r) {
  ITensor x;
  x.name = name, x.shape = std::move(s), x.dtype = t, x.scale = 0.05f;
  x.zero_point = static_cast<int32_t>(pick(r, traits(t).qmin, traits(t).qmax) / 4);
  return x;
}

inline RequantSpec requant(Rng& r, int64_t channels, double base, const ITensor& y) {
  RequantSpec q;
  for (int64_t c = 0; c < channels; ++c)
    q.mult.push_back(make_multiplier(base * std::uniform_real_distribution<double>(0.5, 2.0)(r)));
  q.out_zp = y.zero_point;
  q.clamp_lo = static_cast<int32_t>(traits(y.dtype).qmin);
  q.clamp_hi = static_cast<int32_t>(traits(y.dtype).qmax);
  if (pick(r, 0, 3) == 0) q.clamp_lo = std::max(q.clamp_lo, q.out_zp);  // a ReLU
  return q;
}

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

struct BitexactResult {
  sim::Stats stats;
  CompileReport report;
  int64_t tensors_compared = 0;
};

// Per-layer simulated cycles from a timed run's events (compile_int_graph's fill_sim_cycles).
inline void fill_sim_cycles(CompileReport& r, const std::vector<sim::Event>& events) {
  std::vector<InstrTime> times;
  for (const sim::Event& e : events) times.push_back({e.engine, e.index, e.start, e.end});
  compiler::fill_sim_cycles(r, times);
}

// Compiles g with schedule `opt`, runs it on random inputs and checks every tensor the program
// writes to DDR (with opt 0 every intermediate; with the resident schedule those kept only in LMEM
// are skipped) and every output against the integer reference.
inline BitexactResult check_bitexact_opt(const IntGraph& g, const Arch& a, bool timed, uint32_t seed,
                                         int opt) {
  BitexactResult res;
  const Program p = compile_int_graph(g, a, &res.report, opt);
  std::mt19937 rng(seed);
  IntValues inputs;
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  for (size_t k = 0; k < p.inputs.size(); ++k) {
    const TensorDesc& d = p.inputs[k];
    std::uniform_int_distribution<int32_t> dist(static_cast<int32_t>(traits(d.dtype).qmin),
                                                static_cast<int32_t>(traits(d.dtype).qmax));
    IntValue v{d.shape, d.dtype, d.scale, d.zero_point, {}};
    for (uint64_t i = 0; i < d.elements(); ++i) v.data.push_back(dist(rng));
    sim::write_tensor(mem, d, v.data);
    inputs[g.inputs[k]] = std::move(v);  // the program's input k carries the ONNX name
  }
  sim::RunOptions ro;
  ro.functional = !timed;
  ro.keep_events = timed;
  const sim::RunResult run = sim::run(p, a, mem, ro);
  res.stats = run.stats;
  if (timed) fill_sim_cycles(res.report, run.events);
  const IntRun golden = run_int(g, inputs);
  std::set<std::string> lmem_only;
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (!res.report.layers[i].stored) lmem_only.insert(g.ops[i].output);
  for (const auto& [name, t] : g.tensors) {
    if (!t.view_of.empty() || lmem_only.count(name)) continue;
    INFO("tensor " << name << " on " << a.name << ", opt " << opt);
    const std::vector<int32_t> got = sim::read_tensor(mem, tensor_desc(g, res.report, name));
    REQUIRE(got == golden.values.at(name).data);
    ++res.tensors_compared;
  }
  for (size_t k = 0; k < p.outputs.size(); ++k) {
    const TensorDesc& d = p.outputs[k];
    INFO("output " << d.name << " on " << a.name << ", opt " << opt);
    REQUIRE(sim::read_tensor(mem, d) == golden.values.at(g.outputs[k]).data);
  }
  return res;
}

// Both schedules bit-exact; returns the per-op tiled schedule's (opt 0) result, whose tiling the
// callers inspect.
inline BitexactResult check_bitexact(const IntGraph& g, const Arch& a, bool timed, uint32_t seed) {
  check_bitexact_opt(g, a, timed, seed, kMaxOpt);
  return check_bitexact_opt(g, a, timed, seed, 0);
}

}  // namespace betest
