// Running one instruction in the semantics tests: the optimised kernels and, on a copy, the
// reference twins (semantics_test.cpp, semantics_lut_dma_test.cpp).
#pragma once
#include <catch2/catch.hpp>

#include "isa/semantics.h"
#include "tests/isa/semantics_ref.h"

namespace semref {

using tpusim::ExecCounters;
using tpusim::Geometry;
using tpusim::Instr;
using tpusim::Kernels;
using tpusim::MemView;

inline int64_t id(DType t) { return static_cast<int64_t>(t); }

inline Geometry geometry(const Image& img) { return Geometry{img.lanes, img.lane_bytes, img.ddr.size()}; }

// Runs `in` with the optimised kernels, and on a copy with the reference twins: both must leave
// identical images and counters (so every random case also tests the twins against each other).
inline ExecCounters run(const Instr& in, Image& img) {
  Image twin = img;
  ExecCounters counters, twin_counters;
  execute(in, MemView{geometry(img), img.ddr, img.lmem}, counters, Kernels::Fast);
  execute(in, MemView{geometry(twin), twin.ddr, twin.lmem}, twin_counters, Kernels::Reference);
  CHECK((img.lmem == twin.lmem && img.ddr == twin.ddr));
  CHECK(counters.macs == twin_counters.macs);
  CHECK(counters.acc_overflows == twin_counters.acc_overflows);
  return counters;
}

// Runs `in`, then checks the output against `ref` and that nothing else in either image changed.
inline ExecCounters run_and_compare(const Instr& in, Image& img, const Layout& out, DType t, const T4& ref) {
  Image want = img;
  write(want, out, t, ref);
  const ExecCounters counters = run(in, img);
  CHECK(first_diff(read(img, out, t, ref.n, ref.c, ref.h, ref.w), ref) == "");
  CHECK((img.lmem == want.lmem && img.ddr == want.ddr));
  return counters;
}

}  // namespace semref
