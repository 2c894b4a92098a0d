// Batches of runs (sim/host_io.h): one run per batch slice, statistics summed as one device
// running them back to back.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "sim/host_io.h"
#include "sim/restore_plan.h"

namespace tpusim::sim {

Arch arch_for_program(const Program& p, const std::string& arch_option) {
  if (!arch_option.empty()) return resolve_arch(arch_option);
  for (const Arch& a : arch_presets())
    if (a.name == p.arch.name) return a;
  throw Error(
      fmt::format("the program was compiled for architecture '{}', which is not a preset: "
                  "give its YAML file with --arch FILE",
                  p.arch.name));
}

void accumulate(Stats& total, const Stats& run) {
  if (total.arch.empty()) {
    total.arch = run.arch;
    total.clock_mhz = run.clock_mhz;
    total.functional = run.functional;
    total.peak_macs_per_cycle = run.peak_macs_per_cycle;
    total.int4_speedup = run.int4_speedup;
  }
  total.total_cycles += run.total_cycles;
  for (size_t e = 0; e < total.engines.size(); ++e) {
    total.engines[e].instructions += run.engines[e].instructions;
    total.engines[e].busy += run.engines[e].busy;
    total.engines[e].waiting += run.engines[e].waiting;
    total.engines[e].idle += run.engines[e].idle;
  }
  total.macs += run.macs;
  total.macs_int4 += run.macs_int4;
  total.acc_overflows += run.acc_overflows;
  total.ddr_read_bytes += run.ddr_read_bytes;
  total.ddr_write_bytes += run.ddr_write_bytes;
  total.lmem_read_bytes += run.lmem_read_bytes;
  total.lmem_write_bytes += run.lmem_write_bytes;
  for (const auto& [mnemonic, n] : run.opcode_counts) total.opcode_counts[mnemonic] += n;
  total.tiu_bank_conflicts += run.tiu_bank_conflicts;
  total.tiu_conflict_cycles += run.tiu_conflict_cycles;
  total.gdma_tiu_bank_overlaps += run.gdma_tiu_bank_overlaps;
  total.lmem_hazards += run.lmem_hazards;
  total.ddr_bus_busy_cycles += run.ddr_bus_busy_cycles;
  for (const auto& [unit, busy] : run.tiu_unit_busy) total.tiu_unit_busy[unit] += busy;
}

BatchResult run_batch(const Program& p, const Arch& a, const std::vector<HostArray>& inputs,
                      const BatchOptions& opt) {
  if (inputs.size() != p.inputs.size())
    throw Error(fmt::format("the program has {} input(s), {} given", p.inputs.size(), inputs.size()));
  BatchResult r;
  r.runs = 1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const int64_t n = batch_runs(inputs[k], p.inputs[k]);
    if (k > 0 && n != r.runs)
      throw Error(fmt::format("{} holds {} run(s) of input '{}' but {} holds {} of '{}': batch sizes differ",
                              inputs[k].source, n, p.inputs[k].name, inputs[0].source, r.runs,
                              p.inputs[0].name));
    r.runs = n;
  }
  const int64_t end = opt.end > 0 ? std::min(opt.end, r.runs) : r.runs,
                begin = std::clamp<int64_t>(opt.begin, 0, end);
  r.runs = end - begin;
  // Quantize everything first: a bad value in the last sample fails before any time is spent.
  std::vector<std::vector<std::vector<int32_t>>> quantized(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k)
    for (int64_t run = begin; run < end; ++run)
      quantized[k].push_back(quantize_input(inputs[k], p.inputs[k], run));

  r.outputs.resize(p.outputs.size());
  const DeviceMemory pristine = prepare_memory(p, a);
  DeviceMemory mem;
  const RestorePlan plan = restore_plan(p, a);
  for (int64_t run = 0; run < r.runs; ++run) {
    restore(mem, pristine, plan);  // the bytes a run may write, into the same buffers
    for (size_t k = 0; k < inputs.size(); ++k) write_tensor(mem, p.inputs[k], quantized[k][run]);
    RunOptions ro = opt.run;
    ro.keep_events = ro.keep_events && run == 0;
    RunResult rr = sim::run(p, a, mem, ro);
    for (size_t k = 0; k < p.outputs.size(); ++k) {
      const std::vector<int32_t> y = read_tensor(mem, p.outputs[k]);
      r.outputs[k].insert(r.outputs[k].end(), y.begin(), y.end());
    }
    accumulate(r.total, rr.stats);
    r.per_run.push_back(rr.stats);
    if (run == 0) r.first = std::move(rr);
    if (opt.progress) opt.progress(run + 1, r.runs);
  }
  return r;
}

nlohmann::json batch_stats_json(const BatchResult& r) {
  nlohmann::json j = to_json(r.total);
  nlohmann::json per_run = nlohmann::json::array();
  for (const Stats& s : r.per_run) {
    // Time, occupancy, MACs and overflows per run; traffic, instruction mix and bank figures are the
    // same for every run of a program, and a large batch would repeat them thousands of times.
    const nlohmann::json full = to_json(s);
    nlohmann::json one;
    for (const char* key : {"total_cycles", "time_us", "macs", "mac_utilization", "acc_overflows", "engines"})
      one[key] = full[key];
    per_run.push_back(std::move(one));
  }
  j["batch"] = {{"runs", r.runs}, {"per_run", std::move(per_run)}};
  return j;
}

}  // namespace tpusim::sim
