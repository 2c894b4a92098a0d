#include "isa/arch.h"

#include <fmt/format.h>

#include <bit>

#include "base/error.h"

namespace tpusim {

namespace {
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void byte(uint8_t b) { h = (h ^ b) * 1099511628211ull; }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
  }
};
}  // namespace

const std::vector<ArchParam>& arch_params() {
  static const std::vector<ArchParam> params{
      {"clock_mhz", "clock frequency, MHz", &Arch::clock_mhz},
      {"lanes", "NPU lanes (channel c lives in lane c % lanes)", &Arch::lanes},
      {"macs_per_lane", "int8 MACs per lane per cycle", &Arch::macs_per_lane},
      {"int4_speedup", "int4 MACs per int8 MAC slot", &Arch::int4_speedup},
      {"lane_bytes", "LMEM bytes per lane", &Arch::lane_bytes},
      {"banks_per_lane", "LMEM banks per lane", &Arch::banks_per_lane},
      {"ddr_bytes", "DDR capacity, bytes", &Arch::ddr_bytes},
      {"ddr_bytes_per_cycle", "DDR bandwidth, bytes per cycle", &Arch::ddr_bytes_per_cycle},
      {"ddr_latency", "DDR latency, cycles", &Arch::ddr_latency},
      {"gdma_startup", "GDMA instruction start-up, cycles", &Arch::gdma_startup},
      {"tiu_startup", "TIU instruction start-up, cycles", &Arch::tiu_startup},
      {"lmem_copy_bytes_per_cycle", "GDMA LMEM-to-LMEM copy bandwidth, bytes per cycle",
       &Arch::lmem_copy_bytes_per_cycle},
      {"bank_conflict_cycles", "TIU stall cycles per operand pair sharing an LMEM bank",
       &Arch::bank_conflict_cycles},
      {"energy_mac_int8_pj", "energy per int8 MAC, pJ", &Arch::energy_mac_int8_pj, true},
      {"energy_mac_int4_pj", "energy per int4 x int4 MAC, pJ", &Arch::energy_mac_int4_pj, true},
      {"energy_lmem_read_pj_per_byte", "energy per LMEM byte read, pJ", &Arch::energy_lmem_read_pj_per_byte,
       true},
      {"energy_lmem_write_pj_per_byte", "energy per LMEM byte written, pJ",
       &Arch::energy_lmem_write_pj_per_byte, true},
      {"energy_ddr_pj_per_byte", "energy per DDR byte read or written, pJ", &Arch::energy_ddr_pj_per_byte,
       true},
      {"static_mw_per_mm2", "leakage power per mm^2 of area, mW", &Arch::static_mw_per_mm2, true},
      {"area_mac_um2", "area of one int8 MAC unit, um^2", &Arch::area_mac_um2, true},
      {"area_sram_mm2_per_kib", "LMEM area per KiB, mm^2", &Arch::area_sram_mm2_per_kib, true},
  };
  return params;
}

uint64_t Arch::fingerprint() const {
  Fnv f;
  for (char c : name) f.byte(static_cast<uint8_t>(c));
  for (const ArchParam& p : arch_params()) {
    if (p.cost) continue;  // cost figures change no cycle and no byte: programs stay valid
    std::visit(
        [&](auto m) {
          const auto v = this->*m;
          if constexpr (std::is_same_v<decltype(v), const double>)
            f.u64(std::bit_cast<uint64_t>(v));
          else
            f.u64(v);
        },
        p.member);
  }
  return f.h;
}

const std::vector<Arch>& arch_presets() {
  static const std::vector<Arch> presets = [] {
    Arch edge;
    edge.name = "edge";
    edge.clock_mhz = 500;
    edge.lanes = 8;
    edge.macs_per_lane = 8;
    edge.lane_bytes = 8 * 1024;  // 64 KiB in all: even LeNet's layers need tiling
    edge.banks_per_lane = 2;
    edge.ddr_bytes = 64ull << 20;
    edge.ddr_bytes_per_cycle = 8;
    edge.ddr_latency = 80;
    Arch def;
    def.name = "default";
    Arch server;
    server.name = "server";
    server.clock_mhz = 1500;
    server.lanes = 64;
    server.macs_per_lane = 64;
    server.lane_bytes = 256 * 1024;
    server.banks_per_lane = 16;
    server.ddr_bytes = 1ull << 30;
    server.ddr_bytes_per_cycle = 128;
    server.ddr_latency = 150;
    return std::vector<Arch>{edge, def, server};
  }();
  return presets;
}

const Arch& arch_preset(const std::string& name) {
  std::string names;
  for (const Arch& a : arch_presets()) {
    if (a.name == name) return a;
    names += (names.empty() ? "" : ", ") + a.name;
  }
  throw Error(fmt::format("unknown architecture '{}' (presets: {})", name, names));
}

}  // namespace tpusim
