// isa/semantics: the checker's rejections (each names its field or operand), accesses() footprints,
// execute()'s refusal of out-of-bounds operands (random fields and lut: semantics_check_lut_test.cpp).
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <functional>

#include "base/error.h"
#include "isa/semantics.h"
#include "tests/isa/semantics_ref.h"

using namespace tpusim;
using namespace semref;

namespace {

const Geometry kGeo{4, 0x8000, 1 << 20};

// Valid on kGeo: 16 -> 16 channels, 8x8, 3x3 pad 1. Per lane: src [0, 0x100), weight [0x1000,
// 0x1240), bias [0x2000, 0x2010), dst [0x3000, 0x3100).
ops::Conv2d valid_conv() {
  return {.dst = 0x3000,
          .src = 0,
          .weight = 0x1000,
          .bias = 0x2000,
          .n = 1,
          .ic = 16,
          .ih = 8,
          .iw = 8,
          .oc = 16,
          .kh = 3,
          .kw = 3,
          .stride_h = 1,
          .stride_w = 1,
          .pad_t = 1,
          .pad_b = 1,
          .pad_l = 1,
          .pad_r = 1,
          .dil_h = 1,
          .dil_w = 1,
          .groups = 1,
          .in_dtype = kI8,
          .w_dtype = kI8,
          .has_bias = 1,
          .out_dtype = kI8,
          .rq = 0x2100,
          .m0 = 1 << 30,
          .shift = 30,
          .clamp_lo = -128,
          .clamp_hi = 127};
}
// Valid on kGeo: int8 [1, 32, 8, 8], compact in DDR at 0 and in LMEM at 0 ([0, 0x200) per lane).
ops::DmaLoad valid_dma() {
  return {.dtype = kI8,
          .n = 1,
          .c = 32,
          .h = 8,
          .w = 8,
          .src = 0,
          .src_sn = 2048,
          .src_sc = 64,
          .src_sh = 8,
          .src_sw = 1,
          .dst = 0,
          .dst_sn = 512,
          .dst_sc = 64,
          .dst_sh = 8,
          .dst_sw = 1};
}
ops::Pool valid_pool() {
  return {.dst = 0x1000,
          .src = 0,
          .mode = 0,
          .n = 1,
          .c = 4,
          .ih = 4,
          .iw = 4,
          .kh = 2,
          .kw = 2,
          .stride_h = 1,
          .stride_w = 1,
          .in_dtype = kI8,
          .out_dtype = kI8,
          .m0 = 1 << 30,
          .shift = 30,
          .clamp_lo = -128,
          .clamp_hi = 127};
}
ops::Eltwise valid_eltwise() {
  return {.dst = 0x2000,
          .a = 0,
          .b = 0x1000,
          .op = 0,
          .n = 1,
          .c = 4,
          .h = 4,
          .w = 4,
          .a_dtype = kI8,
          .a_m0 = 1 << 30,
          .a_shift = 30,
          .b_dtype = kI8,
          .b_m0 = 1 << 30,
          .b_shift = 30,
          .out_dtype = kI8,
          .m0 = 1 << 30,
          .shift = 30,
          .clamp_lo = -128,
          .clamp_hi = 127};
}

// op after mutate(op), as an instruction with the given opcode (dma.store/copy reuse DmaLoad's fields).
template <class Op, class Mutate>
Instr mutated(Op op, Mutate mutate, Opcode opcode = Op::opcode) {
  mutate(op);
  Instr in = op.instr();
  in.op = opcode;
  return in;
}
template <class Op, class Mutate>
std::string check_mutated(Op op, Mutate mutate, Opcode opcode = Op::opcode) {
  return check(mutated(op, mutate, opcode), kGeo);
}

}  // namespace

TEST_CASE("check accepts the baselines and names the field of each invalid conv2d") {
  REQUIRE(check(valid_conv().instr(), kGeo) == "");
  using C = ops::Conv2d;
  const std::vector<std::pair<std::string, std::function<void(C&)>>> cases = {
      {"conv2d: groups 3 does not divide ic 16", [](C& c) { c.groups = 3; }},
      {"conv2d: groups 8 does not divide oc 12", [](C& c) { c.groups = 8, c.oc = 12; }},
      {"conv2d: kh 0 must be >= 1", [](C& c) { c.kh = 0; }},
      {"conv2d: stride_w 0 must be >= 1", [](C& c) { c.stride_w = 0; }},
      {"conv2d: dil_h 0 must be >= 1", [](C& c) { c.dil_h = 0; }},
      {"conv2d: groups 0 must be >= 1", [](C& c) { c.groups = 0; }},
      {"conv2d: output height is 0 (input 2 + padding 0 < window 3)",
       [](C& c) { c.ih = 2, c.pad_t = c.pad_b = 0; }},
      {"conv2d: w_dtype uint8 not allowed (weights are int8 or int4)", [](C& c) { c.w_dtype = kU8; }},
      {"conv2d: in_dtype int32 not allowed", [](C& c) { c.in_dtype = kI32; }},
      {"conv2d: in_zp 200 outside in_dtype int8 range [-128, 127]", [](C& c) { c.in_zp = 200; }},
      {"conv2d: out_zp 300 outside out_dtype int8 range", [](C& c) { c.out_zp = 300; }},
      {"conv2d: clamp_hi 300 outside out_dtype int8 range", [](C& c) { c.clamp_hi = 300; }},
      {"conv2d: clamp_lo 10 > clamp_hi 5", [](C& c) { c.clamp_lo = 10, c.clamp_hi = 5; }},
      {"conv2d: m0 0 must be >= 1 (per-tensor requant)", [](C& c) { c.m0 = 0; }},
      {"conv2d: bias address 0x2002 of an int32 operand is not 4-byte aligned",
       [](C& c) { c.bias = 0x2002; }},
      {"conv2d: rq address 0x2101 of an int32 operand", [](C& c) { c.rq_per_channel = 1, c.rq = 0x2101; }},
      {"conv2d: dst address 0x3001 of an int32 operand",
       [](C& c) { c.out_dtype = kI32, c.dst = 0x3001, c.clamp_lo = INT32_MIN, c.clamp_hi = INT32_MAX; }},
      {"conv2d: dst footprint [0x7f80, 0x8080) exceeds lane size 0x8000", [](C& c) { c.dst = 0x7f80; }},
      {"conv2d: weight footprint [0x7f00, 0x8140) exceeds lane size 0x8000", [](C& c) { c.weight = 0x7f00; }},
      {"conv2d: dst [0x80, 0x180) overlaps src [0x0, 0x100)", [](C& c) { c.dst = 0x80; }},
      {"conv2d: dst [0x2000, 0x2100) overlaps bias [0x2000, 0x2010)", [](C& c) { c.dst = 0x2000; }},
      {"conv2d: field kh value 256 out of range [0, 255]", [](C& c) { c.kh = 256; }},
      {"conv2d: field in_dtype value 7 out of range [0, 4]", [](C& c) { c.in_dtype = 7; }},
      {"conv2d: field src value 16777216 out of range", [](C& c) { c.src = 1 << 24; }},
  };
  for (const auto& [want, mutate] : cases)
    CHECK_THAT(check_mutated(valid_conv(), mutate), Catch::StartsWith(want));
  CHECK(check_mutated(valid_conv(), [](C& c) { c.rq_per_channel = 1, c.m0 = 0; }) == "");  // m0 unused
  CHECK(check_mutated(valid_conv(), [](C& c) { c.groups = 16, c.w_dtype = kI4, c.pad_t = 9; }) == "");
}

TEST_CASE("check names the field of invalid matmul, pool, eltwise, requant and dma instructions") {
  using P = ops::Pool;
  using E = ops::Eltwise;
  using D = ops::DmaLoad;
  const ops::Matmul mm{.dst = 0x200,
                       .src = 0,
                       .weight = 0x100,
                       .m = 2,
                       .k = 8,
                       .n = 8,
                       .in_dtype = kI8,
                       .w_dtype = kI8,
                       .out_dtype = kI8,
                       .m0 = 1,
                       .clamp_lo = -1,
                       .clamp_hi = 1};
  CHECK(check(mm.instr(), kGeo) == "");
  CHECK(check_mutated(mm, [](auto& m) { m.k = 0; }) == "matmul: k 0 must be >= 1");
  CHECK_THAT(check_mutated(mm, [](auto& m) { m.w_dtype = kI32; }),
             Catch::StartsWith("matmul: w_dtype int32 not allowed"));
  CHECK_THAT(check_mutated(mm, [](auto& m) { m.in_dtype = kI32; }),
             Catch::StartsWith("matmul: in_dtype int32 not allowed"));

  CHECK(check(valid_pool().instr(), kGeo) == "");
  CHECK(check_mutated(valid_pool(), [](P& p) { p.kh = 3, p.pad_t = 3; }) ==
        "pool: window has no element inside the input (pad_t 3 >= kh 3)");
  CHECK_THAT(check_mutated(valid_pool(), [](P& p) { p.pad_r = 3; }),
             Catch::StartsWith(
                 "pool: window has no element inside the input (last window starts at 5 >= iw 4; pad_r 3)"));
  CHECK(check_mutated(valid_pool(), [](P& p) { p.pad_b = 2, p.stride_h = 3; }) ==
        "");  // last window still inside
  CHECK_THAT(check_mutated(valid_pool(), [](P& p) { p.in_dtype = kI32; }),
             Catch::StartsWith("pool: in_dtype int32"));
  CHECK_THAT(check_mutated(valid_pool(), [](P& p) { p.kw = 5; }),
             Catch::StartsWith("pool: output width is 0"));

  CHECK(check(valid_eltwise().instr(), kGeo) == "");
  CHECK(check_mutated(valid_eltwise(), [](E& e) { e.b_m0 = 0; }) == "eltwise: b_m0 0 must be >= 1");
  CHECK_THAT(check_mutated(valid_eltwise(), [](E& e) { e.a_dtype = kU4, e.a_zp = 16; }),
             Catch::StartsWith("eltwise: a_zp 16 outside a_dtype uint4 range [0, 15]"));
  CHECK(check_mutated(valid_eltwise(), [](E& e) { e.dst = e.b, e.out_dtype = kU8, e.clamp_lo = 0; }) ==
        "");  // in place
  CHECK_THAT(check_mutated(valid_eltwise(),
                           [](E& e) { e.dst = e.a, e.out_dtype = kI4, e.clamp_lo = -8, e.clamp_hi = 7; }),
             Catch::StartsWith("eltwise: dst [0x0, 0x8) overlaps a [0x0, 0x10) (in place needs"));
  CHECK_THAT(check_mutated(valid_eltwise(), [](E& e) { e.dst = 0x1008; }), Catch::Contains("overlaps b"));
  CHECK_THAT(
      check_mutated(valid_eltwise(), [](E& e) { e.rq_per_channel = 1, e.rq = e.dst, e.out_dtype = kI32; }),
      Catch::Contains("overlaps rq"));
  CHECK(check_mutated(valid_eltwise(), [](E& e) { e.a_dtype = kI32; }) == "");  // int32 inputs are fine

  const ops::Requant rq{.dst = 0x100,
                        .n = 1,
                        .c = 4,
                        .h = 2,
                        .w = 2,
                        .in_dtype = kI4,
                        .in_zp = -9,
                        .out_dtype = kI8,
                        .m0 = 1,
                        .clamp_lo = 0,
                        .clamp_hi = 0};
  CHECK(check(rq.instr(), kGeo) == "requant: in_zp -9 outside in_dtype int4 range [-8, 7]");

  CHECK(check(valid_dma().instr(), kGeo) == "");
  CHECK(check_mutated(valid_dma(), [](D& d) { d.src_sw = 0; }) == "");  // source strides 0: broadcast
  CHECK(check_mutated(valid_dma(), [](D& d) { d.src_sn = d.src_sc = d.src_sh = d.src_sw = 0; }) == "");
  CHECK(check_mutated(valid_dma(), [](D& d) { d.dst_sw = 0; }) == "dma.load: dst_sw 0 must be >= 1");
  CHECK(check_mutated(valid_dma(), [](D& d) { d.dst = 0x7f00; }) ==
        "dma.load: dst footprint [0x7f00, 0x8100) exceeds lane size 0x8000");
  CHECK(check_mutated(valid_dma(), [](D& d) { d.src = (1 << 20) - 0x100; }) ==
        "dma.load: src footprint [0xfff00, 0x100700) exceeds DDR size 0x100000");
  CHECK(check_mutated(valid_dma(), [](D& d) { d.dtype = kI32, d.src = 2; }) ==
        "dma.load: src address 0x2 of an int32 operand is not 4-byte aligned");
  CHECK(check_mutated(
            valid_dma(), [](D& d) { d.dtype = kI32, d.dst = 0x1001; }, Opcode::DmaStore) ==
        "dma.store: dst address 0x1001 of an int32 operand is not 4-byte aligned");
  CHECK(check_mutated(valid_dma(), [](D& d) { d.dst_sh = d.dst_sc = d.dst_sn = 1; }) ==
        "dma.load: dst strides alias: 512 elements per lane in 22 element slots");
  CHECK(check_mutated(valid_dma(), [](D& d) { d.src_sn = d.src_sc = 1; }) == "");  // aliased reads are fine
  CHECK(check_mutated(
            valid_dma(), [](D& d) { d.src = 0, d.dst = 0x1ff; }, Opcode::DmaCopy) ==
        "dma.copy: dst [0x1ff, 0x3ff) overlaps src [0x0, 0x200)");
  CHECK(check_mutated(
            valid_dma(), [](D& d) { d.dst = 0x200; }, Opcode::DmaCopy) == "");

  CHECK(check(valid_dma().instr(), Geometry{0, 0x8000, 1 << 20}) ==
        "dma.load: geometry has 0 lanes of 32768 bytes (both must be >= 1)");
  Instr bad;
  bad.op = static_cast<Opcode>(0x7f);
  CHECK(check(bad, kGeo) == "unknown opcode 0x7f");
  CHECK(accesses(bad, kGeo).empty());
  CHECK(check(ops::Sync{.count = 3}.instr(), kGeo) == "");
  CHECK(check(ops::End{}.instr(), Geometry{}) == "");
}

TEST_CASE("accesses lists every operand's footprint in order") {
  const std::vector<Access> conv = accesses(valid_conv().instr(), kGeo);
  REQUIRE(conv.size() == 4);
  const struct {
    const char* operand;
    bool write;
    uint64_t lo, hi, bytes;
  } want[] = {{"src", false, 0, 0x100, 1024},
              {"weight", false, 0x1000, 0x1240, 16 * 144},
              {"bias", false, 0x2000, 0x2010, 64},
              {"dst", true, 0x3000, 0x3100, 1024}};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(std::string(conv[i].operand) == want[i].operand);
    CHECK((conv[i].space == Space::Lmem && conv[i].write == want[i].write));
    CHECK((conv[i].lane_lo == 0 && conv[i].lane_hi == 4));
    CHECK((conv[i].lo == want[i].lo && conv[i].hi == want[i].hi && conv[i].bytes == want[i].bytes));
  }
  Instr store = valid_dma().instr();
  store.op = Opcode::DmaStore;
  const std::vector<Access> st = accesses(store, kGeo);
  REQUIRE(st.size() == 2);
  CHECK((st[0].space == Space::Lmem && !st[0].write && st[1].space == Space::Ddr && st[1].write));
  CHECK((st[1].lo == 0 && st[1].hi == 2048 && st[1].lane_hi == 0));
  CHECK(accesses(ops::Sync{.count = 1}.instr(), kGeo).empty());
  CHECK(accesses(ops::Conv2d{.kh = 1000}.instr(), kGeo).empty());  // fields out of range
}

TEST_CASE("execute throws, without touching memory, on operands it cannot reach") {
  Rng r(7);
  Image img = make_image(r, 4, 0x8000, 4096);  // DDR span: 4 KiB of the geometry's 1 MiB
  const Image before = img;
  ExecCounters counters;
  const MemView mem{kGeo, img.ddr, img.lmem};
  const auto throws = [&](const Instr& in, const std::string& want) {
    INFO(want);
    CHECK_THROWS_WITH(execute(in, mem, counters), Catch::StartsWith(want));
    CHECK((img.lmem == before.lmem && img.ddr == before.ddr));
  };
  CHECK_NOTHROW(execute(valid_dma().instr(), mem, counters));  // baseline: 2 KiB from DDR 0 is fine
  img = before;
  throws(mutated(valid_dma(), [](auto& d) { d.src = 3000; }),
         "dma.load: src footprint [0xbb8, 0x13b8) runs past the end of DDR memory (0x1000 bytes)");
  Instr store = valid_dma().instr();
  store.op = Opcode::DmaStore;
  store.f[spec(Opcode::DmaStore).field_index("dst")] = 1 << 19;
  throws(store, "dma.store: dst footprint [0x80000, 0x80800) runs past the end of DDR memory");
  // Hostile 40-bit addresses and 32-bit strides: rejected from the footprint, nothing allocated.
  const int64_t big = (int64_t{1} << 40) - 1, stride = (int64_t{1} << 32) - 1;
  const ops::DmaLoad hostile{0,      65535,  65535, 65535,  65535,  big,    stride, stride,
                             stride, stride, big,   stride, stride, stride, stride};
  throws(hostile.instr(), "dma.load: src footprint [0xffffffffff, ");
  CHECK_THROWS_AS(
      execute(hostile.instr(), MemView{Geometry{1, UINT32_MAX, UINT64_MAX}, img.ddr, img.lmem}, counters),
      Error);
  // A 40-bit address valid for the geometry but past the DDR span.
  const MemView big_ddr{Geometry{4, 0x8000, int64_t{1} << 41}, img.ddr, img.lmem};
  CHECK_THROWS_WITH(
      execute(mutated(valid_dma(), [&](auto& d) { d.src = big; }), big_ddr, counters),
      "dma.load: src footprint [0xffffffffff, 0x100000007ff) runs past the end of DDR memory (0x1000 bytes)");
  ops::Conv2d huge = valid_conv();
  huge.n = huge.ic = huge.oc = huge.ih = huge.iw = 65535, huge.kh = huge.kw = 255,
  huge.src = huge.dst = (1 << 24) - 1;
  throws(huge.instr(), "conv2d: ");
  throws(mutated(valid_conv(), [](auto& c) { c.src = int64_t{1} << 40; }),
         "conv2d: field src value 1099511627776");
  // An LMEM span shorter than the geometry.
  CHECK_THROWS_WITH(
      execute(valid_conv().instr(), MemView{kGeo, img.ddr, std::span(img.lmem).first(100)}, counters),
      Catch::StartsWith("conv2d: LMEM span of 100 bytes is smaller than 4 lanes x 32768 bytes"));
  // A per-channel rq table entry with M0 = 0 (channel 6: lane 2, entry 1).
  ops::Conv2d per_channel = valid_conv();
  per_channel.rq_per_channel = 1;
  std::vector<int64_t> table(32, 1);  // (M0, shift) = (1, 1) for every channel...
  table[12] = 0;                      // ...but M0 = 0 for channel 6
  write_table(img, 0x2100, DType::Int32, 16, 2, table);
  const Image with_table = img;
  CHECK_THROWS_WITH(execute(per_channel.instr(), mem, counters),
                    "conv2d: rq table channel 6: M0 0 shift 1 (need M0 >= 1, 0 <= shift <= 63)");
  CHECK(img.lmem == with_table.lmem);
}
