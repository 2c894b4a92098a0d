// Shared by the fast-twin tests (semantics_fast_test, _quads_test, _eltwise_lut_test): a
// random LMEM image with a valid requant table, and the Fast == Reference check on one instruction.
#pragma once
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "isa/semantics.h"

namespace tpusim::fast_twin {

constexpr uint32_t kLaneBytes = 0x10000;
constexpr uint64_t kRq = 0xF000;  // the requant table's LMEM offset in every lane

struct Rng {
  std::mt19937_64 g;
  int64_t operator()(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); }
};

struct Memory {
  Geometry geo;
  std::vector<uint8_t> lmem, ddr;
};

// Random LMEM bytes; at kRq a valid table of (M0, shift) per channel drawn by `scale(r)`.
template <class ScaleFn>
Memory random_memory(uint32_t lanes, uint64_t channels, Rng& r, ScaleFn scale) {
  Memory m{Geometry{lanes, kLaneBytes, 4096}, std::vector<uint8_t>(uint64_t{lanes} * kLaneBytes),
           std::vector<uint8_t>(4096)};
  for (size_t i = 0; i < m.lmem.size(); i += 8) {  // 8 random bytes per draw
    const uint64_t v = r.g();
    for (size_t j = 0; j < 8 && i + j < m.lmem.size(); ++j)
      m.lmem[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  for (uint64_t o = 0; o < channels; ++o) {
    const std::pair<int64_t, int64_t> ms = scale(r);
    for (int e = 0; e < 2; ++e) {
      const auto v = static_cast<uint32_t>(e == 0 ? ms.first : ms.second);
      uint8_t* p = m.lmem.data() + (o % lanes) * kLaneBytes + kRq + ((o / lanes) * 2 + e) * 4;
      for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
    }
  }
  return m;
}

// Fast on `m` itself, Reference on a copy: identical memory and counters. Returns the overflows.
inline uint64_t require_same(const Instr& in, Memory& m) {
  Memory ref = m;
  ExecCounters ca, cb;
  execute(in, MemView{m.geo, m.ddr, m.lmem}, ca, Kernels::Fast);
  execute(in, MemView{ref.geo, ref.ddr, ref.lmem}, cb, Kernels::Reference);
  REQUIRE(m.lmem == ref.lmem);
  REQUIRE(m.ddr == ref.ddr);
  REQUIRE(ca.macs == cb.macs);
  REQUIRE(ca.acc_overflows == cb.acc_overflows);
  REQUIRE(ca.lmem_read == cb.lmem_read);
  return ca.acc_overflows;
}

}  // namespace tpusim::fast_twin
