// The SIMD kernels (Kernels::Fast: isa/semantics_fast.cpp over isa/simd_kernels.cpp) against the
// reference twins on many random conv2d, matmul and pool instructions: int8/uint8/int4/uint4 inputs with
// random zero points, int8/int4 weights, dense, grouped and depthwise convs with odd sizes, strides,
// dilations and pads (both the flat-axpy and the im2col-gemm path), int32 outputs with the identity
// requant as the compiler's split reductions use them, per-channel rq tables, and random biases large
// enough to saturate the int32 accumulator. Memory, MACs and overflow counts must be identical.
#include <catch2/catch.hpp>
#include <random>

#include "isa/semantics.h"

using namespace tpusim;

namespace {

constexpr uint32_t kLaneBytes = 0x10000;
constexpr uint64_t kRq = 0x6100;

struct Rng {
  std::mt19937_64 g;
  int64_t operator()(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); }
};

int64_t zp_for(int64_t dtype, Rng& r) {
  switch (dtype) {
    case 0: return r(-128, 127);
    case 1: return r(0, 255);
    case 2: return r(-8, 7);
    default: return r(0, 15);
  }
}

// Random requant tail: int32 with the identity requant, or 8/4-bit with random (per-channel) scales.
template <class Op>
void random_tail(Op& op, Rng& r) {
  op.rq = kRq, op.out_zp = 0;
  if (r(0, 3) == 0) {
    op.out_dtype = 4, op.rq_per_channel = 0, op.m0 = 1 << 30, op.shift = 30;
    op.clamp_lo = INT32_MIN, op.clamp_hi = INT32_MAX;
    return;
  }
  op.out_dtype = r(0, 3);
  const int64_t lo = op.out_dtype == 0 ? -128 : op.out_dtype == 2 ? -8 : 0;
  const int64_t hi = op.out_dtype == 0 ? 127 : op.out_dtype == 1 ? 255 : op.out_dtype == 2 ? 7 : 15;
  op.out_zp = r(lo, hi), op.clamp_lo = r(lo, op.out_zp), op.clamp_hi = r(op.out_zp, hi);
  op.rq_per_channel = r(0, 1), op.m0 = r(1, INT32_MAX), op.shift = r(0, 63);
}

// Runs `in` with both kernel sets on the same random memory (with a valid rq table when per
// channel); requires identical memory and counters.
void require_same(const Instr& in, uint32_t lanes, uint64_t channels, Rng& r) {
  Geometry geo{lanes, kLaneBytes, 4096};
  std::vector<uint8_t> lmem(uint64_t{lanes} * kLaneBytes), ddr(4096);
  for (auto& b : lmem) b = static_cast<uint8_t>(r(0, 255));
  for (auto& b : ddr) b = static_cast<uint8_t>(r(0, 255));
  for (uint64_t o = 0; o < channels; ++o)  // entry (o / lanes) * 2 of lane o % lanes: M0, shift
    for (int e = 0; e < 2; ++e) {
      const auto v = static_cast<uint32_t>(e == 0 ? r(1, INT32_MAX) : r(0, 63));
      uint8_t* p = lmem.data() + (o % lanes) * kLaneBytes + kRq + ((o / lanes) * 2 + e) * 4;
      for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
    }
  std::vector<uint8_t> lmem2 = lmem, ddr2 = ddr;
  ExecCounters ca, cb;
  execute(in, MemView{geo, ddr, lmem}, ca, Kernels::Fast);
  execute(in, MemView{geo, ddr2, lmem2}, cb, Kernels::Reference);
  REQUIRE(lmem == lmem2);
  REQUIRE(ddr == ddr2);
  REQUIRE(ca.macs == cb.macs);
  REQUIRE(ca.acc_overflows == cb.acc_overflows);
}

}  // namespace

TEST_CASE("fast conv2d equals the reference on random dtypes, zero points, groups and shapes", "[fast]") {
  Rng r{std::mt19937_64(2024)};
  int run = 0, saturating = 0;
  for (int iter = 0; iter < 600 && run < 300; ++iter) {
    ops::Conv2d c;
    const auto lanes = static_cast<uint32_t>(r(1, 16));
    const int64_t kind = r(0, 2);  // dense, grouped, depthwise
    c.groups = kind == 0 ? 1 : r(2, 4);
    const int64_t icg = kind == 2 ? 1 : r(1, 12), ocg = kind == 2 ? r(1, 2) : r(1, 9);
    c.n = r(1, 2), c.ic = icg * c.groups, c.oc = ocg * c.groups;
    c.ih = r(1, 19), c.iw = r(1, 23), c.kh = r(1, 5), c.kw = r(1, 5);
    c.stride_h = r(1, 3), c.stride_w = r(1, 3), c.dil_h = r(1, 2), c.dil_w = r(1, 2);
    c.pad_t = r(0, 2), c.pad_b = r(0, 2), c.pad_l = r(0, 2), c.pad_r = r(0, 2);
    if (r(0, 2) == 0) c.stride_h = c.stride_w = c.dil_h = c.dil_w = 1;  // the flat path
    c.in_dtype = r(0, 3), c.w_dtype = r(0, 1) * 2, c.in_zp = zp_for(c.in_dtype, r);
    c.src = 0, c.weight = 0x4000, c.bias = 0x6000, c.dst = 0x7000, c.has_bias = r(0, 3) != 0;
    random_tail(c, r);
    const Instr in = c.instr();
    if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
    INFO("iteration " << iter);
    require_same(in, lanes, static_cast<uint64_t>(c.oc), r);
    ++run;
    saturating += c.has_bias && c.out_dtype == 4;
  }
  REQUIRE(run == 300);
  REQUIRE(saturating > 20);
}

TEST_CASE("fast conv2d equals the reference on its channels-last path (kw * icg >= 64)", "[fast]") {
  Rng r{std::mt19937_64(4242)};
  int run = 0, segmented = 0;
  for (int iter = 0; iter < 600 && run < 150; ++iter) {
    ops::Conv2d c;
    const auto lanes = static_cast<uint32_t>(r(4, 16));
    c.groups = r(1, 2);
    const int64_t icg = r(13, 40), ocg = r(1, 9);
    c.n = r(1, 2), c.ic = icg * c.groups, c.oc = ocg * c.groups;
    c.ih = r(1, 9), c.iw = r(1, 11), c.kh = r(1, 4), c.kw = r(1, 5);
    c.stride_h = r(1, 3), c.stride_w = r(1, 3), c.dil_h = r(1, 2), c.dil_w = 1;
    c.pad_t = r(0, 2), c.pad_b = r(0, 2), c.pad_l = r(0, 2), c.pad_r = r(0, 2);
    c.in_dtype = r(0, 3), c.w_dtype = r(0, 1) * 2, c.in_zp = zp_for(c.in_dtype, r);
    c.src = 0, c.weight = 0x4000, c.bias = 0x6000, c.dst = 0x7000, c.has_bias = r(0, 3) != 0;
    random_tail(c, r);
    const Instr in = c.instr();
    if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
    INFO("iteration " << iter);
    require_same(in, lanes, static_cast<uint64_t>(c.oc), r);
    ++run;
    segmented += c.kw * icg >= 64;
  }
  REQUIRE(run == 150);
  REQUIRE(segmented > 50);
}

TEST_CASE("fast matmul equals the reference on random dtypes, zero points and sizes", "[fast]") {
  Rng r{std::mt19937_64(77)};
  int run = 0;
  for (int iter = 0; iter < 400 && run < 200; ++iter) {
    ops::Matmul mm;
    const auto lanes = static_cast<uint32_t>(r(1, 16));
    mm.m = r(1, 9), mm.k = r(1, 700), mm.n = r(1, 37);
    mm.in_dtype = r(0, 3), mm.w_dtype = r(0, 1) * 2, mm.in_zp = zp_for(mm.in_dtype, r);
    mm.src = 0, mm.weight = 0x1000, mm.bias = 0x6000, mm.dst = 0x7000, mm.has_bias = r(0, 3) != 0;
    random_tail(mm, r);
    const Instr in = mm.instr();
    if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
    INFO("iteration " << iter);
    require_same(in, lanes, static_cast<uint64_t>(mm.n), r);
    ++run;
  }
  REQUIRE(run == 200);
}

TEST_CASE("fast pool equals the reference on random modes, windows, pads and dtypes", "[fast]") {
  Rng r{std::mt19937_64(5)};
  int run = 0;
  for (int iter = 0; iter < 400 && run < 200; ++iter) {
    ops::Pool p;
    const auto lanes = static_cast<uint32_t>(r(1, 16));
    p.mode = r(0, 1), p.n = r(1, 2), p.c = r(1, 20), p.ih = r(1, 17), p.iw = r(1, 17);
    p.kh = r(1, 4), p.kw = r(1, 4), p.stride_h = r(1, 3), p.stride_w = r(1, 3);
    p.pad_t = r(0, 1), p.pad_b = r(0, 1), p.pad_l = r(0, 1), p.pad_r = r(0, 1), p.count_pad = r(0, 1);
    p.in_dtype = r(0, 3), p.in_zp = zp_for(p.in_dtype, r);
    p.src = 0, p.dst = 0x7000;
    random_tail(p, r);
    const Instr in = p.instr();
    if (check(in, Geometry{lanes, kLaneBytes, 4096}) != "") continue;
    INFO("iteration " << iter);
    require_same(in, lanes, static_cast<uint64_t>(p.c), r);
    ++run;
  }
  REQUIRE(run == 200);
}
