// The optimised conv2d/matmul kernels against their reference twins on network-sized shapes (the
// random small-shape cases in semantics_test.cpp also run both), and the fallback beyond the
// int32-exact reduction length.
#include <catch2/catch.hpp>
#include <random>

#include "isa/semantics.h"
#include "tests/isa/fast_twin_fixture.h"

using namespace tpusim;

namespace {

// Runs `in` on random memory with both kernel sets; requires identical memory and counters.
void require_twins_agree(const Instr& in, uint32_t lanes, uint32_t lane_bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  fast_twin::Memory m{Geometry{lanes, lane_bytes, 4096}, std::vector<uint8_t>(uint64_t{lanes} * lane_bytes),
                      std::vector<uint8_t>(4096)};
  for (auto& b : m.lmem) b = static_cast<uint8_t>(rng());
  for (auto& b : m.ddr) b = static_cast<uint8_t>(rng());
  REQUIRE(check(in, m.geo) == "");
  fast_twin::require_same(in, m);
}

}  // namespace

TEST_CASE("fast conv2d equals the reference on network-sized layers", "[fast]") {
  struct Shape {
    int64_t ic, oc, hw, k, stride, pad, groups, in_t, w_t;
  };
  const Shape shapes[] = {
      {1, 8, 28, 5, 1, 2, 1, 0, 0},     // LeNet conv1, int8
      {8, 16, 14, 5, 1, 0, 1, 1, 0},    // LeNet conv2, uint8 input
      {16, 32, 15, 3, 2, 1, 1, 2, 2},   // int4 x int4, stride 2, odd size
      {32, 32, 14, 3, 1, 1, 32, 3, 2},  // depthwise, uint4 input
      {24, 48, 7, 1, 1, 0, 1, 0, 0},    // pointwise
  };
  uint64_t seed = 1;
  for (const Shape& s : shapes) {
    ops::Conv2d c;
    const uint32_t lanes = 16;
    c.n = 2, c.ic = s.ic, c.oc = s.oc, c.ih = c.iw = s.hw, c.kh = c.kw = s.k, c.groups = s.groups;
    c.stride_h = c.stride_w = s.stride, c.dil_h = c.dil_w = 1;
    c.pad_t = c.pad_b = c.pad_l = c.pad_r = s.pad;
    c.in_dtype = s.in_t, c.w_dtype = s.w_t, c.in_zp = s.in_t == 1 ? 128 : s.in_t == 3 ? 8 : -3;
    c.src = 0, c.weight = 0x4000, c.bias = 0x6000, c.rq = 0x6100, c.dst = 0x7000;
    c.has_bias = 1, c.out_dtype = 0, c.out_zp = 5, c.m0 = 1 << 30, c.shift = 38, c.clamp_lo = -128,
    c.clamp_hi = 127;
    require_twins_agree(c.instr(), lanes, 0x10000, seed++);
  }
}

TEST_CASE("fast matmul equals the reference", "[fast]") {
  ops::Matmul mm;
  mm.m = 5, mm.k = 400, mm.n = 120, mm.in_dtype = 0, mm.w_dtype = 0, mm.in_zp = 7;
  mm.src = 0, mm.weight = 0x1000, mm.bias = 0x3000, mm.dst = 0x3100, mm.has_bias = 1;
  mm.out_dtype = 4, mm.m0 = 1 << 30, mm.shift = 30, mm.clamp_lo = INT32_MIN, mm.clamp_hi = INT32_MAX;
  require_twins_agree(mm.instr(), 16, 0x4000, 7);
}

TEST_CASE("reductions past the int32-exact length fall back to the reference", "[fast]") {
  ops::Conv2d c;  // ic*kh*kw = 1024*8*8 = 65536 > 65535 terms: the fast kernel declines
  c.n = 1, c.ic = 1024, c.oc = 1, c.ih = c.iw = 8, c.kh = c.kw = 8, c.groups = 1;
  c.stride_h = c.stride_w = c.dil_h = c.dil_w = 1, c.in_dtype = 1, c.w_dtype = 0, c.in_zp = 0;
  c.src = 0, c.weight = 0x10000, c.dst = 0x20000;
  c.out_dtype = 4, c.m0 = 1 << 30, c.shift = 30, c.clamp_lo = INT32_MIN, c.clamp_hi = INT32_MAX;
  require_twins_agree(c.instr(), 1, 0x40000, 9);
}

TEST_CASE("fast DMA (memcpy runs) equals the reference on planes, gapped rows and odd nibbles", "[fast]") {
  std::mt19937_64 rng(11);
  for (int iter = 0; iter < 200; ++iter) {
    auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    const uint32_t lanes = static_cast<uint32_t>(uni(1, 4));
    ops::DmaLoad d;
    d.dtype = uni(0, 4);
    d.n = uni(1, 2), d.c = uni(1, 6), d.h = uni(1, 5), d.w = uni(1, 7);
    // DDR side: NCHW with an optional row gap; LMEM side: compact or gapped rows.
    const int64_t src_gap = uni(0, 1) * uni(1, 3), dst_gap = uni(0, 1) * uni(1, 3);
    d.src_sw = 1, d.src_sh = d.w + src_gap, d.src_sc = d.h * d.src_sh, d.src_sn = d.c * d.src_sc;
    d.dst_sw = 1, d.dst_sh = d.w + dst_gap, d.dst_sc = d.h * d.dst_sh,
    d.dst_sn = ((d.c + lanes - 1) / lanes) * d.dst_sc;
    d.src = uni(0, 5), d.dst = uni(0, 5);  // odd byte offsets; int4 also starts on odd nibbles below
    if (d.dtype == 4) d.src = d.src / 4 * 4, d.dst = d.dst / 4 * 4;
    Instr in = d.instr();
    if (uni(0, 1)) {  // the same move as a store (LMEM -> DDR)
      ops::DmaStore s;
      s.dtype = d.dtype, s.n = d.n, s.c = d.c, s.h = d.h, s.w = d.w;
      s.src = d.dst, s.src_sn = d.dst_sn, s.src_sc = d.dst_sc, s.src_sh = d.dst_sh, s.src_sw = 1;
      s.dst = d.src, s.dst_sn = d.src_sn, s.dst_sc = d.src_sc, s.dst_sh = d.src_sh, s.dst_sw = 1;
      in = s.instr();
    }
    INFO("iteration " << iter);
    require_twins_agree(in, lanes, 0x400, rng());
  }
}
