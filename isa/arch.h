// The architecture description shared by the compiler and the simulator (the hardware contract).
// Presets are built in; YAML loading and validation come with the simulator (docs/arch.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tpusim {

struct Arch {
  std::string name;
  double clock_mhz = 1000;
  uint32_t lanes = 16;               // NPU lanes; channel c of a local tensor lives in lane c % lanes
  uint32_t macs_per_lane = 16;       // int8 MACs per lane per cycle
  uint32_t int4_speedup = 2;         // int4 MACs per int8 MAC slot
  uint32_t lane_bytes = 32 * 1024;   // LMEM bytes per lane
  uint32_t banks_per_lane = 4;       // LMEM banks per lane (equal slices of lane_bytes)
  uint64_t ddr_bytes = 256ull << 20; // DDR capacity
  uint32_t ddr_bytes_per_cycle = 32; // DDR bandwidth shared by concurrent transfers
  uint32_t ddr_latency = 100;        // cycles from request to first byte
  uint32_t gdma_startup = 20;        // cycles to start a DMA instruction
  uint32_t tiu_startup = 10;         // cycles to start a TIU instruction

  uint64_t lmem_bytes() const { return uint64_t{lanes} * lane_bytes; }
  // Stable 64-bit FNV-1a hash of every field: a program records it and the simulator refuses to run
  // a program on an architecture with another fingerprint.
  uint64_t fingerprint() const;
};

// Built-in presets: "edge" (small LMEM, forces tiling), "default", "server".
const std::vector<Arch>& arch_presets();
// Preset by name; throws Error listing the presets when unknown.
const Arch& arch_preset(const std::string& name);

}  // namespace tpusim
