// The architecture description shared by the compiler and the simulator (the hardware contract).
// Every parameter is listed once in arch_params(); the YAML loader, the printer and the
// fingerprint all walk that list. Presets are built in; files may start from one ("base: edge").
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace tpusim {

struct Arch {
  std::string name;
  double clock_mhz = 1000;
  uint32_t lanes = 16;                      // NPU lanes; channel c of a local tensor lives in lane c % lanes
  uint32_t macs_per_lane = 16;              // int8 MACs per lane per cycle
  uint32_t int4_speedup = 2;                // int4 MACs per int8 MAC slot
  uint32_t lane_bytes = 32 * 1024;          // LMEM bytes per lane
  uint32_t banks_per_lane = 4;              // LMEM banks per lane (equal slices of lane_bytes)
  uint64_t ddr_bytes = 256ull << 20;        // DDR capacity
  uint32_t ddr_bytes_per_cycle = 32;        // DDR bandwidth shared by concurrent transfers
  uint32_t ddr_latency = 100;               // cycles from request to first byte
  uint32_t gdma_startup = 20;               // cycles to start a DMA instruction
  uint32_t tiu_startup = 10;                // cycles to start a TIU instruction
  uint32_t lmem_copy_bytes_per_cycle = 64;  // GDMA LMEM->LMEM copy bandwidth
  uint32_t bank_conflict_cycles = 1;        // TIU stall per operand pair sharing a bank

  // Cost model for design-space exploration (docs/dse.md has the sources): what events cost,
  // not how the machine behaves, so none of these enter fingerprint().
  double energy_mac_int8_pj = 0.3;   // int8 x int8 MAC into int32
  double energy_mac_int4_pj = 0.15;  // int4 x int4 MAC into int32
  double energy_lmem_read_pj_per_byte = 1.25;
  double energy_lmem_write_pj_per_byte = 1.25;
  double energy_ddr_pj_per_byte = 162.5;  // read or written
  double static_mw_per_mm2 = 10;          // leakage power density over area_mm2()
  double area_mac_um2 = 419;              // one int8 MAC unit (multiplier + 32-bit adder)
  double area_sram_mm2_per_kib = 0.004;   // LMEM, cells and periphery

  uint64_t lmem_bytes() const { return uint64_t{lanes} * lane_bytes; }
  // MAC array + LMEM; control, vector unit, DMA and DDR PHY are left out (docs/dse.md).
  double area_mac_mm2() const { return double(lanes) * macs_per_lane * area_mac_um2 * 1e-6; }
  double area_sram_mm2() const { return double(lmem_bytes()) / 1024.0 * area_sram_mm2_per_kib; }
  double area_mm2() const { return area_mac_mm2() + area_sram_mm2(); }
  // Stable 64-bit FNV-1a hash of the name and every behavioural parameter (cost parameters
  // excluded): a program records it and the simulator refuses to run a program on an
  // architecture with another fingerprint.
  uint64_t fingerprint() const;
};

// One numeric parameter of Arch: its YAML key, unit/meaning, and where it lives. Cost
// parameters (energy, area, leakage) may be 0 and are left out of the fingerprint.
struct ArchParam {
  const char* key;
  const char* doc;
  std::variant<double Arch::*, uint32_t Arch::*, uint64_t Arch::*> member;
  bool cost = false;
};
const std::vector<ArchParam>& arch_params();

// Built-in presets: "edge" (small LMEM, forces tiling), "default", "server".
const std::vector<Arch>& arch_presets();
// Preset by name; throws Error listing the presets when unknown.
const Arch& arch_preset(const std::string& name);

// YAML: a mapping with optional `name`, optional `base` (a preset to start from, default
// "default") and any of the parameter keys. Unknown keys, wrong types, non-positive values
// (negative for cost parameters) and parameters that contradict each other (banks not dividing
// lane_bytes) throw Error "<source>: key '<key>': <problem>".
Arch arch_from_yaml(const std::string& text, const std::string& source);
Arch load_arch_file(const std::string& path);
// `--arch NAME|FILE`: a preset name, else a YAML file path.
Arch resolve_arch(const std::string& name_or_path);
// The YAML form of an architecture (every key; loads back to an equal Arch).
std::string arch_to_yaml(const Arch& a);

}  // namespace tpusim
