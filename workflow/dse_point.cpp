#include "workflow/dse_point.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

#include "base/error.h"
#include "compiler/backend.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "isa/dtype.h"
#include "sim/simulator.h"

namespace tpusim::workflow::dse {

compiler::IntGraph load_model(const std::string& path) {
  const compiler::Graph g = compiler::import_onnx(path);
  bool qdq = false;
  for (const compiler::Node& n : g.nodes)
    qdq |= n.op == compiler::Op::QuantizeLinear || n.op == compiler::Op::DequantizeLinear;
  if (!qdq)
    throw Error(
        fmt::format("{}: an FP32 model; dse needs a QDQ model (quantize it first: tpusim compile {} "
                    "--calib data.npy -o m.tpu --save-qdq m_qdq.onnx, then dse --model m_qdq.onnx)",
                    path, path));
  return compiler::lower_qdq(g);
}

sim::Stats simulate(const compiler::IntGraph& g, const Arch& a) {
  const Program p = compiler::compile_int_graph(g, a);
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  // Cycle counts do not depend on the data (docs/timing.md: formulas of shapes); a fixed
  // pseudo-random pattern keeps the run reproducible and exercises real arithmetic.
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (const TensorDesc& d : p.inputs) {
    const int64_t lo = traits(d.dtype).qmin, span = traits(d.dtype).qmax - lo + 1;
    std::vector<int32_t> v(d.elements());
    for (int32_t& x : v) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      x = static_cast<int32_t>(lo + static_cast<int64_t>((state >> 33) % static_cast<uint64_t>(span)));
    }
    sim::write_tensor(mem, d, v);
  }
  sim::RunOptions opt;
  opt.keep_events = false;
  return sim::run(p, a, mem, opt).stats;
}

nlohmann::json metrics(const sim::Stats& s, const Arch& a) {
  const sim::Energy e = sim::energy(s, a);
  const double nj = 1e-3;  // per pJ
  return {{"cycles", s.total_cycles},
          {"latency_us", s.time_us()},
          {"mac_utilization", s.mac_utilization()},
          {"macs", s.macs},
          {"macs_int4", s.macs_int4},
          {"gdma_busy", s.engine(Engine::Gdma).busy},
          {"tiu_busy", s.engine(Engine::Tiu).busy},
          {"ddr_read_bytes", s.ddr_read_bytes},
          {"ddr_write_bytes", s.ddr_write_bytes},
          {"lmem_read_bytes", s.lmem_read_bytes},
          {"lmem_write_bytes", s.lmem_write_bytes},
          {"energy_mac_nj", e.mac_pj * nj},
          {"energy_lmem_nj", e.lmem_pj * nj},
          {"energy_ddr_nj", e.ddr_pj * nj},
          {"energy_static_nj", e.static_pj * nj},
          {"energy_nj", e.total_pj * nj},
          {"area_mac_mm2", a.area_mac_mm2()},
          {"area_sram_mm2", a.area_sram_mm2()},
          {"area_mm2", a.area_mm2()},
          {"edp_nj_us", e.total_pj * nj * s.time_us()}};
}

nlohmann::json run_point(const compiler::IntGraph& g, const Arch& base, const Point& p, const SweepKey& key) {
  const auto t0 = std::chrono::steady_clock::now();
  nlohmann::json j = {{"format", 1},
                      {"id", p.id},
                      {"index", p.index},
                      {"params", p.params},
                      {"model_hash", key.model_hash},
                      {"base_arch", key.base_arch}};
  Arch a;
  try {
    a = point_arch(base, p.params);
  } catch (const Error& e) {
    j["status"] = "invalid";
    j["error"] = e.what();
    return j;
  }
  nlohmann::json arch = nlohmann::json::object();
  for (const ArchParam& q : arch_params()) std::visit([&](auto m) { arch[q.key] = a.*m; }, q.member);
  j["arch"] = arch;
  try {
    const sim::Stats s = simulate(g, a);
    j["status"] = "ok";
    j["metrics"] = metrics(s, a);
    j["stats"] = sim::to_json(s);
  } catch (const Error& e) {
    j["status"] = "error";
    j["error"] = e.what();
  }
  // Not in results.csv: they differ between two computations of the same point.
  j["wall_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  j["worker_pid"] = static_cast<long>(::getpid());
  return j;
}

}  // namespace tpusim::workflow::dse
