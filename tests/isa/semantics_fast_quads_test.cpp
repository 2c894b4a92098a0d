// The direct conv path (isa/semantics_fast_conv_quads.cpp: AVX-512 VNNI, or int16 multiply-adds on
// the other SIMD targets, each also forced in turn through hwy::SetSupportedTargetsForTest) against
// the reference kernel: random convs with planes large enough for 16-wide position vectors — dense, grouped
// and depthwise, 1 to 20 input channels per group (channel quads and, for 1-2 channels, row quads), strides,
// dilations, pads, int8/uint8/ int4/uint4 inputs, int8/int4 weights, int32 outputs, saturating biases — and
// the packed-weight cache (isa/conv_weight_cache.h): the same instruction again after its weights changed in
// LMEM must see the new weights. Also the micro-kernel against its plain twin on every Highway target.
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "isa/semantics.h"
#include "isa/simd_conv_quads.h"
#include "tests/isa/fast_twin_fixture.h"
#include "tests/isa/hwy_targets.h"

using namespace tpusim;
using namespace tpusim::fast_twin;

namespace {

int64_t zp_for(int64_t dtype, Rng& r) {
  const int64_t lo[] = {-128, 0, -8, 0}, hi[] = {127, 255, 7, 15};
  return r(lo[dtype], hi[dtype]);
}

void random_tail(ops::Conv2d& c, Rng& r) {
  c.rq = kRq, c.out_zp = 0;
  if (r(0, 3) == 0) {  // int32 output, identity requant (split reductions)
    c.out_dtype = 4, c.rq_per_channel = 0, c.m0 = 1 << 30, c.shift = 30;
    c.clamp_lo = INT32_MIN, c.clamp_hi = INT32_MAX;
    return;
  }
  c.out_dtype = r(0, 3);
  const int64_t lo = c.out_dtype == 0 ? -128 : c.out_dtype == 2 ? -8 : 0;
  const int64_t hi = c.out_dtype == 0 ? 127 : c.out_dtype == 1 ? 255 : c.out_dtype == 2 ? 7 : 15;
  c.out_zp = r(lo, hi), c.clamp_lo = r(lo, c.out_zp), c.clamp_hi = r(c.out_zp, hi);
  c.rq_per_channel = r(0, 1), c.m0 = r(1, INT32_MAX), c.shift = r(0, 63);
}

Memory random_memory(uint32_t lanes, uint64_t channels, Rng& r) {
  return fast_twin::random_memory(lanes, channels, r, [](Rng& g) {
    return std::pair{g(1, INT32_MAX), g(0, 63)};
  });
}

// A random conv whose output plane is at least 4x4.
ops::Conv2d random_conv(Rng& r) {
  ops::Conv2d c;
  const int64_t kind = r(0, 2);  // dense, grouped, depthwise
  c.groups = kind == 0 ? 1 : r(2, 3);
  const int64_t icg = kind == 2 ? 1 : r(0, 1) ? r(1, 2) : r(3, 20), ocg = kind == 2 ? r(1, 2) : r(1, 9);
  c.n = r(1, 2), c.ic = icg * c.groups, c.oc = ocg * c.groups;
  c.kh = r(1, 5), c.kw = r(1, 5), c.stride_h = r(1, 3), c.stride_w = r(1, 3), c.dil_h = r(1, 2),
  c.dil_w = r(1, 2);
  if (r(0, 1)) c.stride_w = c.dil_w = 1;  // the row-quad layout for 1-2 channels
  c.pad_t = r(0, 2), c.pad_b = r(0, 2), c.pad_l = r(0, 2), c.pad_r = r(0, 2);
  c.ih = r(4, 12) * c.stride_h + c.dil_h * (c.kh - 1), c.iw = r(4, 14) * c.stride_w + c.dil_w * (c.kw - 1);
  c.in_dtype = r(0, 3), c.w_dtype = r(0, 1) * 2, c.in_zp = zp_for(c.in_dtype, r);
  c.src = 0, c.weight = 0x8000, c.bias = 0xA000, c.dst = 0xA400, c.has_bias = r(0, 3) != 0;
  random_tail(c, r);
  return c;
}

}  // namespace

TEST_CASE("fast conv2d on planes of 16+ outputs equals the reference (direct path)", "[fast]") {
  Rng r{std::mt19937_64(1515)};
  int run = 0, rows = 0, int32_out = 0;
  for (int iter = 0; iter < 1000 && run < 250; ++iter) {
    const ops::Conv2d c = random_conv(r);
    const Instr in = c.instr();
    const auto lanes = static_cast<uint32_t>(r(1, 16));
    if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
    INFO("iteration " << iter);
    Memory m = random_memory(lanes, static_cast<uint64_t>(c.oc), r);
    require_same(in, m);
    ++run;
    rows += c.ic / c.groups <= 2 && c.stride_w == 1 && c.dil_w == 1;
    int32_out += c.out_dtype == 4;
  }
  REQUIRE(run == 250);
  REQUIRE(rows > 40);
  REQUIRE(int32_out > 30);
}

TEST_CASE("fast conv2d sees weights changed in LMEM between runs of the same instruction", "[fast]") {
  Rng r{std::mt19937_64(99)};
  int run = 0;
  for (int iter = 0; iter < 400 && run < 40; ++iter) {
    const ops::Conv2d c = random_conv(r);
    const Instr in = c.instr();
    const auto lanes = static_cast<uint32_t>(r(1, 16));
    const Geometry geo{lanes, kLaneBytes, 4096};
    if (check(in, geo) != "") continue;
    INFO("iteration " << iter);
    Memory m = random_memory(lanes, static_cast<uint64_t>(c.oc), r);
    const std::vector<Access> acc = accesses(in, geo);
    const Access& w = *std::find_if(acc.begin(), acc.end(),
                                    [](const Access& a) { return a.operand == std::string("weight"); });
    for (int again = 0; again < 4; ++again) {
      // 0: as packed before; 1: one byte of one lane changed; 2: a whole lane; 3: unchanged again.
      if (again == 1)
        m.lmem[static_cast<size_t>(r(w.lane_lo, w.lane_hi - 1) * kLaneBytes +
                                   r(int64_t(w.lo), int64_t(w.hi) - 1))] ^= static_cast<uint8_t>(r(1, 255));
      if (again == 2)
        for (uint64_t b = w.lo; b < w.hi; ++b)
          m.lmem[(w.lane_hi - 1) * kLaneBytes + b] = static_cast<uint8_t>(r(0, 255));
      require_same(in, m);
    }
    ++run;
  }
  REQUIRE(run == 40);
}

TEST_CASE("fast conv2d's direct path equals the reference on every Highway target", "[fast]") {
  int simd_runs = 0;
  const int targets = testing::for_each_hwy_target([&](const std::string& target) {
    Rng r{std::mt19937_64(1516)};
    int run = 0, rows = 0;
    for (int iter = 0; iter < 400 && run < 60; ++iter) {
      const ops::Conv2d c = random_conv(r);
      const Instr in = c.instr();
      const auto lanes = static_cast<uint32_t>(r(1, 16));
      if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
      INFO("target " << target << ", iteration " << iter);
      Memory m = random_memory(lanes, static_cast<uint64_t>(c.oc), r);
      require_same(in, m);
      ++run;
      rows += c.ic / c.groups <= 2 && c.stride_w == 1 && c.dil_w == 1;
    }
    REQUIRE(run == 60);
    REQUIRE(rows > 8);
    simd_runs += simd::conv_quads_simd() ? run : 0;
  });
  REQUIRE(targets >= 2);
  REQUIRE(simd_runs >= 60 * (targets - 1));  // the direct path on every target but the scalar one
}

TEST_CASE("the quad micro-kernel equals its plain twin on every Highway target", "[fast]") {
  testing::for_each_hwy_target([&](const std::string& target) {
    Rng r{std::mt19937_64(3)};
    for (int iter = 0; iter < 60; ++iter) {
      const auto k4 = static_cast<size_t>(r(1, 40)), channels = static_cast<size_t>(4 * r(1, 6));
      const auto positions = static_cast<size_t>(r(1, 200)), ldc = (positions + 15) / 16 * 16 + 16 * r(0, 1);
      std::vector<uint8_t> x(static_cast<size_t>(k4 * 64 + 4 * ldc + 64));
      for (auto& b : x) b = static_cast<uint8_t>(r(0, 255));
      if (iter % 4 == 0) std::fill(x.begin(), x.end(), uint8_t{255});  // the largest products
      std::vector<size_t> koff(k4);
      for (auto& k : koff) k = static_cast<size_t>(r(0, static_cast<int64_t>(k4 * 64)));
      std::vector<int8_t> w(channels * k4 * 4);
      for (auto& b : w) b = static_cast<int8_t>(iter % 4 == 0 ? r(0, 1) * 255 - 128 : r(-128, 127));
      std::vector<int32_t> fast(channels * ldc, 7), plain(channels * ldc, 7);
      simd::QuadConv a{x.data(), koff.data(), k4, w.data(), channels, positions, fast.data(), ldc};
      simd::conv_quads_u8s8(a);
      a.acc = plain.data();
      simd::conv_quads_u8s8_reference(a);
      INFO("target " << target << ", iteration " << iter);
      REQUIRE(fast == plain);
    }
  });
}

TEST_CASE("fast max pool on larger planes equals the reference (padded int16 rows)", "[fast]") {
  Rng r{std::mt19937_64(21)};
  int run = 0;
  for (int iter = 0; iter < 400 && run < 120; ++iter) {
    ops::Pool p;
    p.mode = static_cast<int64_t>(PoolMode::Max), p.n = r(1, 2), p.c = r(1, 20), p.ih = r(2, 40),
    p.iw = r(2, 40);
    p.kh = r(1, 4), p.kw = r(1, 4), p.stride_h = r(1, 3), p.stride_w = r(1, 3), p.count_pad = 0;
    p.pad_t = r(0, p.kh - 1), p.pad_b = r(0, p.kh - 1), p.pad_l = r(0, p.kw - 1), p.pad_r = r(0, p.kw - 1);
    p.in_dtype = r(0, 3), p.in_zp = zp_for(p.in_dtype, r), p.src = 0, p.dst = 0xA400, p.rq = kRq,
    p.out_zp = 0;
    p.out_dtype = r(0, 1), p.clamp_lo = p.out_dtype == 0 ? -128 : 0,
    p.clamp_hi = p.out_dtype == 0 ? 127 : 255;
    p.rq_per_channel = r(0, 1), p.m0 = r(1, INT32_MAX), p.shift = r(0, 40);
    const Instr in = p.instr();
    const auto lanes = static_cast<uint32_t>(r(1, 16));
    if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
    INFO("iteration " << iter);
    Memory m = random_memory(lanes, static_cast<uint64_t>(p.c), r);
    require_same(in, m);
    ++run;
  }
  REQUIRE(run == 120);
}
