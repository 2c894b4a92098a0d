// run_bitexact (tests/support/random_graph.h): a compiled graph on the simulator against run_int.
#include <fmt/format.h>

#include <set>

#include "compiler/cycle_model.h"
#include "tests/support/random_graph.h"

namespace betest {
namespace {

// Per-layer simulated cycles from a timed run's events (compile_int_graph's fill_sim_cycles).
void fill_cycles(CompileReport& r, const std::vector<sim::Event>& events) {
  std::vector<InstrTime> times;
  for (const sim::Event& e : events) times.push_back({e.engine, e.index, e.start, e.end});
  compiler::fill_sim_cycles(r, times);
}

// "" when equal, else the first differing element.
std::string diff(const std::string& what, const std::vector<int32_t>& got, const std::vector<int32_t>& want) {
  if (got.size() != want.size())
    return fmt::format("{}: simulator wrote {} values, reference has {}", what, got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i])
      return fmt::format("{}: element {}: simulator {}, reference {}", what, i, got[i], want[i]);
  return "";
}

}  // namespace

BitexactResult run_bitexact(const IntGraph& g, const Arch& a, bool timed, uint32_t seed, int opt) {
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
  if (timed) {
    fill_cycles(res.report, run.events);
    res.replay_cycles = compiler::replay_cycles(p.tiu, p.gdma, a).total;
  }
  const IntRun golden = run_int(g, inputs);
  std::set<std::string> lmem_only;
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (!res.report.layers[i].stored) lmem_only.insert(g.ops[i].output);
  for (const auto& [name, t] : g.tensors) {
    if (!t.view_of.empty() || lmem_only.count(name)) continue;
    res.mismatch = diff(fmt::format("tensor {} on {}, opt {}", name, a.name, opt),
                        sim::read_tensor(mem, tensor_desc(g, res.report, name)), golden.values.at(name).data);
    if (!res.mismatch.empty()) return res;
    ++res.tensors_compared;
  }
  for (size_t k = 0; k < p.outputs.size(); ++k) {
    const TensorDesc& d = p.outputs[k];
    res.mismatch = diff(fmt::format("output {} on {}, opt {}", d.name, a.name, opt), sim::read_tensor(mem, d),
                        golden.values.at(g.outputs[k]).data);
    if (!res.mismatch.empty()) return res;
  }
  return res;
}

}  // namespace betest
