#include "isa/arch.h"

#include <fmt/format.h>

#include <cstring>

#include "isa/error.h"

namespace tpusim {

namespace {
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      uint8_t b = static_cast<uint8_t>(v >> (8 * i));
      bytes(&b, 1);
    }
  }
};
}  // namespace

uint64_t Arch::fingerprint() const {
  Fnv f;
  f.bytes(name.data(), name.size());
  uint64_t clock_bits = 0;
  static_assert(sizeof(clock_bits) == sizeof(clock_mhz));
  std::memcpy(&clock_bits, &clock_mhz, sizeof clock_bits);  // hashing the value's bits, not a layout
  for (uint64_t v : {clock_bits, uint64_t{lanes}, uint64_t{macs_per_lane}, uint64_t{int4_speedup},
                     uint64_t{lane_bytes}, uint64_t{banks_per_lane}, ddr_bytes, uint64_t{ddr_bytes_per_cycle},
                     uint64_t{ddr_latency}, uint64_t{gdma_startup}, uint64_t{tiu_startup}})
    f.u64(v);
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
