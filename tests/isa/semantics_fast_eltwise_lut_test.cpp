// The eltwise and lut fast twins (isa/semantics_fast_eltwise_lut.cpp over isa/simd_eltwise_lut.cpp)
// against the reference kernels, on every Highway target of this CPU: random instructions with
// int8/uint8/int4/uint4/int32 inputs, random zero points and rescales (saturating ones included),
// odd plane sizes, planes longer than a kernel chunk, in-place outputs and per-channel rq tables;
// memory and overflow counts must be identical. Also the row kernels against their plain twins.
#include <catch2/catch.hpp>
#include <random>

#include "isa/semantics.h"
#include "isa/simd_eltwise_lut.h"
#include "tests/isa/fast_twin_fixture.h"
#include "tests/isa/hwy_targets.h"

using namespace tpusim;
using namespace tpusim::fast_twin;

namespace {

int64_t zp_for(int64_t dtype, Rng& r) {
  const int64_t lo[] = {-128, 0, -8, 0, -32768}, hi[] = {127, 255, 7, 15, 32767};
  return r(lo[dtype], hi[dtype]);
}

// A scale (M0, shift): about 2^-8..2^8 mostly, sometimes anything (saturating or vanishing).
void random_scale(Rng& r, int64_t& m0, int64_t& shift) {
  if (r(0, 3) == 0) {
    m0 = r(1, INT32_MAX), shift = r(0, 63);
    return;
  }
  m0 = r(int64_t{1} << 30, INT32_MAX), shift = r(23, 39);
}

template <class Op>
void random_tail(Op& op, Rng& r) {
  op.rq = kRq;
  op.out_dtype = r(0, 4);
  if (op.out_dtype == 4) {
    op.out_zp = 0, op.clamp_lo = INT32_MIN, op.clamp_hi = INT32_MAX;
  } else {
    const int64_t lo[] = {-128, 0, -8, 0}, hi[] = {127, 255, 7, 15};
    op.out_zp = r(lo[op.out_dtype], hi[op.out_dtype]);
    op.clamp_lo = r(lo[op.out_dtype], op.out_zp), op.clamp_hi = r(op.out_zp, hi[op.out_dtype]);
  }
  op.rq_per_channel = r(0, 1);
  random_scale(r, op.m0, op.shift);
}

Memory random_memory(uint32_t lanes, uint64_t channels, Rng& r) {
  return fast_twin::random_memory(lanes, channels, r, [](Rng& g) {
    int64_t m0 = 0, shift = 0;
    random_scale(g, m0, shift);
    return std::pair{m0, shift};
  });
}

ops::Eltwise random_eltwise(Rng& r, bool long_planes) {
  ops::Eltwise e;
  e.op = r(0, 2), e.n = r(1, 2), e.c = r(1, 20), e.h = r(1, 9), e.w = r(1, 41);
  if (long_planes) e.n = 1, e.c = r(1, 3), e.h = r(40, 70), e.w = r(70, 130);  // > 4096 elements
  e.a_dtype = r(0, 4), e.b_dtype = r(0, 4);
  e.a_zp = zp_for(e.a_dtype, r), e.b_zp = zp_for(e.b_dtype, r);
  random_scale(r, e.a_m0, e.a_shift);
  random_scale(r, e.b_m0, e.b_shift);
  if (r(0, 5) == 0)  // the compiler's partial-sum add: int32, identity rescales
    e.op = 0, e.a_dtype = e.b_dtype = 4, e.a_zp = e.b_zp = 0, e.a_m0 = e.b_m0 = 1 << 30,
    e.a_shift = e.b_shift = 30;
  e.a = 0, e.b = 0x5000, e.dst = 0xA000;
  random_tail(e, r);
  const int64_t bits[] = {8, 8, 4, 4, 32};
  if (r(0, 3) == 0 && bits[e.out_dtype] == bits[e.a_dtype]) e.dst = e.a;  // in place
  if (r(0, 3) == 0 && bits[e.out_dtype] == bits[e.b_dtype]) e.dst = e.b;
  return e;
}

}  // namespace

TEST_CASE("fast eltwise equals the reference on every Highway target", "[fast]") {
  int in_place = 0, saturating = 0, long_runs = 0;
  const int targets = testing::for_each_hwy_target([&](const std::string& target) {
    Rng r{std::mt19937_64(1507)};
    int run = 0;
    for (int iter = 0; iter < 2000 && run < 150; ++iter) {
      const bool long_planes = iter % 10 == 0;
      const ops::Eltwise e = random_eltwise(r, long_planes);
      const Instr in = e.instr();
      const auto lanes = static_cast<uint32_t>(r(1, 16));
      if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
      INFO("target " << target << ", iteration " << iter);
      Memory m = random_memory(lanes, static_cast<uint64_t>(e.c), r);
      saturating += require_same(in, m) > 0;
      ++run;
      in_place += e.dst != 0xA000;
      long_runs += long_planes;
    }
    REQUIRE(run == 150);
  });
  REQUIRE(targets >= 2);  // at least one SIMD target and the scalar one
  REQUIRE(in_place > 10 * targets);
  REQUIRE(saturating > 20 * targets);
  REQUIRE(long_runs > 5 * targets);
}

TEST_CASE("fast lut equals the reference on every Highway target", "[fast]") {
  int in_place = 0;
  const int targets = testing::for_each_hwy_target([&](const std::string& target) {
    Rng r{std::mt19937_64(1508)};
    int run = 0;
    for (int iter = 0; iter < 1000 && run < 150; ++iter) {
      ops::Lut l;
      l.n = r(1, 2), l.c = r(1, 20), l.h = r(1, 9), l.w = r(1, 150);
      l.in_dtype = r(0, 3), l.out_dtype = r(0, 3);
      l.src = 0, l.table = 0x6000, l.dst = 0x8000;
      if (r(0, 2) == 0 && (l.in_dtype < 2) == (l.out_dtype < 2)) l.dst = l.src;  // in place
      const Instr in = l.instr();
      const auto lanes = static_cast<uint32_t>(r(1, 16));
      if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
      INFO("target " << target << ", iteration " << iter);
      Memory m = random_memory(lanes, 0, r);
      require_same(in, m);
      ++run;
      in_place += l.dst == l.src;
    }
    REQUIRE(run == 150);
  });
  REQUIRE(targets >= 2);
  REQUIRE(in_place > 20 * targets);
}

TEST_CASE("the eltwise and lut row kernels equal their plain twins on every Highway target", "[fast]") {
  testing::for_each_hwy_target([&](const std::string& target) {
    Rng r{std::mt19937_64(1509)};
    for (int iter = 0; iter < 300; ++iter) {
      INFO("target " << target << ", iteration " << iter);
      const auto n = static_cast<size_t>(r(0, 100));
      std::vector<int32_t> a(n), b(n);
      const bool wide = r(0, 1) == 0;  // int32 codes, or 8-bit ones
      for (size_t i = 0; i < n; ++i)
        a[i] = static_cast<int32_t>(wide ? r(INT32_MIN, INT32_MAX) : r(-128, 255)),
        b[i] = static_cast<int32_t>(wide ? r(INT32_MIN, INT32_MAX) : r(-128, 255));
      int64_t am0, ash, bm0, bsh, m0, sh;
      random_scale(r, am0, ash), random_scale(r, bm0, bsh), random_scale(r, m0, sh);
      const auto lo = static_cast<int32_t>(r(-128, 0)), hi = static_cast<int32_t>(r(0, 127));
      const simd::EltwiseRow e{static_cast<int>(r(0, 2)),
                               static_cast<int32_t>(r(-32768, 32767)),
                               static_cast<int32_t>(am0),
                               static_cast<int>(ash),
                               static_cast<int32_t>(r(-32768, 32767)),
                               static_cast<int32_t>(bm0),
                               static_cast<int>(bsh),
                               static_cast<int32_t>(m0),
                               static_cast<int>(sh),
                               static_cast<int32_t>(r(lo, hi)),
                               lo,
                               hi};
      std::vector<int32_t> fast(n), plain(n);
      std::vector<uint8_t> fast8(n);
      const uint64_t ov = simd::eltwise_row_reference(a.data(), b.data(), n, e, plain.data());
      REQUIRE(simd::eltwise_row(a.data(), b.data(), n, e, fast.data()) == ov);
      REQUIRE(fast == plain);
      REQUIRE(simd::eltwise_row_u8(a.data(), b.data(), n, e, fast8.data()) == ov);
      for (size_t i = 0; i < n; ++i) REQUIRE(fast8[i] == static_cast<uint8_t>(plain[i]));

      const size_t entries = r(0, 1) ? 256 : 16;
      std::vector<uint8_t> x(n), table(entries), lut_fast(n), lut_plain(n);
      for (auto& v : x) v = static_cast<uint8_t>(r(0, static_cast<int64_t>(entries) - 1));
      for (auto& v : table) v = static_cast<uint8_t>(r(0, 255));
      const auto flip = static_cast<uint8_t>(entries == 256 ? r(0, 1) * 0x80 : r(0, 1) * 8);
      simd::lut_u8(x.data(), n, flip, table.data(), entries, lut_fast.data());
      simd::lut_u8_reference(x.data(), n, flip, table.data(), entries, lut_plain.data());
      REQUIRE(lut_fast == lut_plain);
      simd::lut_u8(x.data(), n, flip, table.data(), entries, x.data());  // in place
      REQUIRE(x == lut_plain);
    }
  });
}
