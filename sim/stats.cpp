#include "sim/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace tpusim::sim {

double Stats::mac_utilization() const {
  const double peak = double(total_cycles) * double(peak_macs_per_cycle);
  const double slots =
      double(macs - macs_int4) + double(macs_int4) / double(std::max<uint64_t>(int4_speedup, 1));
  return peak > 0 ? slots / peak : 0;
}

Energy energy(const Stats& s, const Arch& a) {
  Energy e;
  e.mac_pj = double(s.macs - s.macs_int4) * a.energy_mac_int8_pj + double(s.macs_int4) * a.energy_mac_int4_pj;
  e.lmem_pj = double(s.lmem_read_bytes) * a.energy_lmem_read_pj_per_byte +
              double(s.lmem_write_bytes) * a.energy_lmem_write_pj_per_byte;
  e.ddr_pj = double(s.ddr_read_bytes + s.ddr_write_bytes) * a.energy_ddr_pj_per_byte;
  e.static_pj = a.static_mw_per_mm2 * a.area_mm2() * s.time_us() * 1e3;
  e.total_pj = e.mac_pj + e.lmem_pj + e.ddr_pj + e.static_pj;
  return e;
}

nlohmann::json to_json(const Stats& s) {
  nlohmann::json j;
  j["arch"] = s.arch;
  j["clock_mhz"] = s.clock_mhz;
  j["mode"] = s.functional ? "functional" : "timed";
  j["total_cycles"] = s.total_cycles;
  j["time_us"] = s.time_us();
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    const EngineStats& es = s.engine(e);
    j["engines"][engine_name(e)] = {{"instructions", es.instructions},
                                    {"busy_cycles", es.busy},
                                    {"waiting_cycles", es.waiting},
                                    {"idle_cycles", es.idle}};
  }
  j["macs"] = s.macs;
  j["macs_int4"] = s.macs_int4;
  j["peak_macs_per_cycle"] = s.peak_macs_per_cycle;
  j["mac_utilization"] = s.mac_utilization();
  j["acc_overflows"] = s.acc_overflows;
  j["bytes"] = {{"ddr_read", s.ddr_read_bytes},
                {"ddr_write", s.ddr_write_bytes},
                {"lmem_read", s.lmem_read_bytes},
                {"lmem_write", s.lmem_write_bytes}};
  j["opcode_counts"] = s.opcode_counts;
  j["bank"] = {{"tiu_conflicts", s.tiu_bank_conflicts},
               {"tiu_conflict_cycles", s.tiu_conflict_cycles},
               {"gdma_tiu_overlaps", s.gdma_tiu_bank_overlaps},
               {"lmem_hazards", s.lmem_hazards}};
  j["ddr_bus_busy_cycles"] = s.ddr_bus_busy_cycles;
  j["tiu_units"] = nlohmann::json::object();
  for (const auto& [unit, busy] : s.tiu_unit_busy) j["tiu_units"][unit] = {{"busy", busy}};
  return j;
}

Stats stats_from_json(const nlohmann::json& j) {
  Stats s;
  s.arch = j.at("arch").get<std::string>();
  s.clock_mhz = j.at("clock_mhz").get<double>();
  s.functional = j.at("mode").get<std::string>() == "functional";
  s.total_cycles = j.at("total_cycles").get<uint64_t>();
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    const nlohmann::json& es = j.at("engines").at(engine_name(e));
    s.engine(e) = {es.at("instructions").get<uint64_t>(), es.at("busy_cycles").get<uint64_t>(),
                   es.at("waiting_cycles").get<uint64_t>(), es.at("idle_cycles").get<uint64_t>()};
  }
  s.macs = j.at("macs").get<uint64_t>();
  s.macs_int4 = j.at("macs_int4").get<uint64_t>();
  s.peak_macs_per_cycle = j.at("peak_macs_per_cycle").get<uint64_t>();
  s.acc_overflows = j.at("acc_overflows").get<uint64_t>();
  const nlohmann::json& b = j.at("bytes");
  s.ddr_read_bytes = b.at("ddr_read"), s.ddr_write_bytes = b.at("ddr_write");
  s.lmem_read_bytes = b.at("lmem_read"), s.lmem_write_bytes = b.at("lmem_write");
  s.opcode_counts = j.at("opcode_counts").get<std::map<std::string, uint64_t>>();
  const nlohmann::json& bank = j.at("bank");
  s.tiu_bank_conflicts = bank.at("tiu_conflicts"), s.tiu_conflict_cycles = bank.at("tiu_conflict_cycles");
  s.gdma_tiu_bank_overlaps = bank.at("gdma_tiu_overlaps"), s.lmem_hazards = bank.at("lmem_hazards");
  s.ddr_bus_busy_cycles = j.at("ddr_bus_busy_cycles").get<uint64_t>();
  for (const auto& [unit, v] : j.at("tiu_units").items())
    s.tiu_unit_busy[unit] = v.at("busy").get<uint64_t>();
  return s;
}

namespace {
// "1234 (56.7%)"
std::string cell(uint64_t part, uint64_t whole) {
  return whole ? fmt::format("{} ({:.1f}%)", part, 100.0 * double(part) / double(whole))
               : fmt::format("{}", part);
}

template <typename... T>
void add_line(std::string& out, fmt::format_string<T...> f, T&&... args) {
  out += fmt::format(f, std::forward<T>(args)...);
  out += '\n';
}
}  // namespace

std::string summary(const Stats& s) {
  std::string out;
  add_line(out, "arch {} @ {} MHz, {} mode", s.arch, s.clock_mhz, s.functional ? "functional" : "timed");
  add_line(out, "total {:>14} cycles  {:>12.3f} us", s.total_cycles, s.time_us());
  add_line(out, "{:<6} {:>8} {:>24} {:>24} {:>24}", "engine", "instrs", "busy cycles", "waiting cycles",
           "idle cycles");
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    const EngineStats& es = s.engine(e);
    add_line(out, "{:<6} {:>8} {:>24} {:>24} {:>24}", engine_name(e), es.instructions,
             cell(es.busy, s.total_cycles), cell(es.waiting, s.total_cycles), cell(es.idle, s.total_cycles));
  }
  add_line(out, "MACs {} (utilization {:.1f}% of {} per cycle), int32 overflows {}", s.macs,
           100.0 * s.mac_utilization(), s.peak_macs_per_cycle, s.acc_overflows);
  add_line(out, "DDR  read {} B, written {} B, bus busy {} cycles", s.ddr_read_bytes, s.ddr_write_bytes,
           s.ddr_bus_busy_cycles);
  add_line(out, "LMEM read {} B, written {} B", s.lmem_read_bytes, s.lmem_write_bytes);
  if (!s.tiu_unit_busy.empty()) {
    std::string units;
    for (const auto& [unit, busy] : s.tiu_unit_busy)
      units += fmt::format(" {} {}", unit, cell(busy, s.total_cycles));
    add_line(out, "TIU datapaths busy:{}", units);
  }
  add_line(out, "bank conflicts: TIU {} pairs ({} cycles), GDMA/TIU overlaps {}, hazards {}",
           s.tiu_bank_conflicts, s.tiu_conflict_cycles, s.gdma_tiu_bank_overlaps, s.lmem_hazards);
  std::string mix;
  for (const auto& [mn, n] : s.opcode_counts) mix += fmt::format(" {}={}", mn, n);
  add_line(out, "instructions:{}", mix);
  return out;
}

}  // namespace tpusim::sim
