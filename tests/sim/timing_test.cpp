// Every cycle formula of docs/timing.md, checked against hand-written arithmetic, and one-instruction
// programs whose simulated total equals the formula (sync and end cost 0 cycles).
#include "sim/timing.h"

#include <catch2/catch.hpp>

#include "sim/ddr_bus.h"
#include "sim/simulator.h"
#include "tests/support/sim_helpers.h"

using namespace tpusim;
using namespace simtest;

namespace {

int64_t out_size(int64_t in, int64_t pad, int64_t k, int64_t stride, int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

// Simulated total of a program holding `in` alone on its engine.
uint64_t run_alone(const Arch& a, const Instr& in) {
  const bool dma = spec(in.op).engine == Engine::Gdma;
  Program p = dma ? program(a, {in, end()}, {end()}) : program(a, {end()}, {in, end()});
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  return sim::run(p, a, mem).stats.total_cycles;
}

const std::vector<ConvShape> kConvShapes = {
    {1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1},
    {2, 16, 5, 7, 20, 1, 1, 1, 0, 1, 1},
    {1, 8, 9, 9, 8, 3, 3, 2, 1, 1, 8},                               // depthwise, stride 2
    {1, 32, 6, 6, 17, 3, 3, 1, 0, 2, 1},                             // dilation 2
    {1, 12, 5, 5, 24, 3, 3, 1, 1, 1, 4},                             // grouped
    {1, 16, 4, 4, 16, 3, 3, 1, 1, 1, 1, DType::Int4, DType::Int4},   // int4 speedup
    {1, 16, 4, 4, 16, 3, 3, 1, 1, 1, 1, DType::UInt4, DType::Int4},  // uint4 counts as 4-bit
    {1, 16, 4, 4, 16, 3, 3, 1, 1, 1, 1, DType::Int4, DType::Int8},   // no speedup: weights int8
};

}  // namespace

TEST_CASE("conv2d cycles: startup + ceil(oc/lanes) * ceil(ic/g*kh*kw / macs_eff) * n*oh*ow",
          "[sim][timing]") {
  for (const Arch& a : arch_presets()) {
    const uint64_t bank = sim::bank_bytes(a);
    for (const ConvShape& s : kConvShapes) {
      const bool four = is_4bit(s.in) && is_4bit(s.weight);
      const int64_t macs_eff = a.macs_per_lane * (four ? a.int4_speedup : 1);
      const int64_t oh = out_size(s.ih, s.pad, s.kh, s.stride, s.dil),
                    ow = out_size(s.iw, s.pad, s.kw, s.stride, s.dil);
      const int64_t expect = a.tiu_startup + ceil_div(s.oc, a.lanes) *
                                                 ceil_div(s.ic / s.groups * s.kh * s.kw, macs_eff) * s.n *
                                                 oh * ow;
      // src, weight and dst each in its own bank (edge has 2 banks: dst shares bank 0 with src).
      const Instr in = conv(s, 0, bank, a.banks_per_lane > 2 ? 2 * bank : bank / 2).instr();
      INFO(a.name << " conv ic=" << s.ic << " oc=" << s.oc << " groups=" << s.groups);
      REQUIRE(check(in, sim::geometry(a)) == "");
      CHECK(sim::cycles(in, a) == uint64_t(expect));
      const uint64_t pairs = a.banks_per_lane > 2 ? 0 : 1;
      CHECK(sim::conflict_pairs(in, a) == pairs);
      CHECK(run_alone(a, in) == uint64_t(expect) + pairs * a.bank_conflict_cycles);
      CHECK(sim::macs(in) == uint64_t(s.n * s.oc * oh * ow * (s.ic / s.groups) * s.kh * s.kw));
    }
  }
}

TEST_CASE("matmul cycles: startup + ceil(n/lanes) * ceil(k/macs_eff) * m", "[sim][timing]") {
  const Arch& a = arch_preset("default");
  struct Mm {
    int64_t m, k, n;
    DType in, w;
  };
  for (const Mm& s : {Mm{1, 256, 10, DType::Int8, DType::Int8}, Mm{4, 100, 33, DType::UInt8, DType::Int8},
                      Mm{3, 64, 16, DType::Int4, DType::Int4}, Mm{2, 17, 1, DType::Int8, DType::Int4}}) {
    ops::Matmul mm;
    mm.m = s.m, mm.k = s.k, mm.n = s.n, mm.in_dtype = int64_t(s.in), mm.w_dtype = int64_t(s.w);
    mm.src = 0, mm.weight = 8192, mm.dst = 16384;
    set_requant(mm, DType::Int8);
    const int64_t macs_eff = a.macs_per_lane * (is_4bit(s.in) && is_4bit(s.w) ? a.int4_speedup : 1);
    const uint64_t expect = a.tiu_startup + ceil_div(s.n, a.lanes) * ceil_div(s.k, macs_eff) * s.m;
    REQUIRE(check(mm.instr(), sim::geometry(a)) == "");
    CHECK(sim::cycles(mm.instr(), a) == expect);
    CHECK(run_alone(a, mm.instr()) == expect);
    CHECK(sim::macs(mm.instr()) == uint64_t(s.m * s.n * s.k));
  }
}

TEST_CASE("pool cycles: startup + ceil(c/lanes) * n*oh*ow * ceil(kh*kw/macs_per_lane)", "[sim][timing]") {
  for (const Arch& a : {arch_preset("default"), arch_preset("server")}) {
    struct Pl {
      int64_t n, c, ih, iw, k, stride, pad;
    };
    for (const Pl& s : {Pl{1, 16, 8, 8, 2, 2, 0}, Pl{2, 70, 7, 9, 3, 2, 1}, Pl{1, 5, 12, 12, 5, 1, 2}}) {
      ops::Pool p;
      p.n = s.n, p.c = s.c, p.ih = s.ih, p.iw = s.iw, p.kh = p.kw = s.k, p.stride_h = p.stride_w = s.stride;
      p.pad_t = p.pad_b = p.pad_l = p.pad_r = s.pad;
      p.mode = s.pad ? 1 : 0, p.in_dtype = int64_t(DType::Int8), p.src = 0, p.dst = sim::bank_bytes(a);
      set_requant(p, DType::Int8);
      const int64_t oh = out_size(s.ih, s.pad, s.k, s.stride, 1),
                    ow = out_size(s.iw, s.pad, s.k, s.stride, 1);
      const uint64_t expect =
          a.tiu_startup + ceil_div(s.c, a.lanes) * s.n * oh * ow * ceil_div(s.k * s.k, a.macs_per_lane);
      REQUIRE(check(p.instr(), sim::geometry(a)) == "");
      CHECK(sim::cycles(p.instr(), a) == expect);
      CHECK(run_alone(a, p.instr()) == expect);
    }
  }
}

TEST_CASE("eltwise and requant cycles: startup + ceil(c/lanes) * ceil(n*h*w/macs_per_lane)",
          "[sim][timing]") {
  const Arch& a = arch_preset("default");
  const uint64_t bank = sim::bank_bytes(a);
  struct Sh {
    int64_t n, c, h, w;
  };
  for (const Sh& s : {Sh{1, 16, 4, 4}, Sh{2, 17, 3, 5}, Sh{1, 1, 1, 1}, Sh{3, 40, 9, 11}}) {
    const uint64_t expect =
        a.tiu_startup + ceil_div(s.c, a.lanes) * ceil_div(s.n * s.h * s.w, a.macs_per_lane);
    ops::Eltwise e;
    e.n = s.n, e.c = s.c, e.h = s.h, e.w = s.w, e.a = 0, e.b = bank, e.dst = 2 * bank;
    e.a_m0 = e.b_m0 = 1 << 30, e.a_shift = e.b_shift = 30;
    set_requant(e, DType::Int8);
    ops::Requant r;
    r.n = s.n, r.c = s.c, r.h = s.h, r.w = s.w, r.src = 0, r.dst = bank;
    set_requant(r, DType::Int4);
    for (const Instr& in : {e.instr(), r.instr()}) {
      REQUIRE(check(in, sim::geometry(a)) == "");
      CHECK(sim::cycles(in, a) == expect);
      CHECK(run_alone(a, in) == expect);
    }
  }
}

TEST_CASE("lut cycles: startup + ceil(2^bits(in)/macs_per_lane) + ceil(c/lanes) * ceil(n*h*w/macs_per_lane)",
          "[sim][timing]") {
  for (const Arch& a : {arch_preset("default"), arch_preset("server")}) {  // three banks for three operands
    const uint64_t bank = sim::bank_bytes(a);
    struct Sh {
      int64_t n, c, h, w;
      DType in, out;
    };
    for (const Sh& s :
         {Sh{1, 32, 8, 8, DType::Int8, DType::Int8}, Sh{2, 17, 3, 5, DType::UInt4, DType::Int8},
          Sh{1, 1, 1, 1, DType::Int4, DType::UInt4}, Sh{3, 40, 9, 11, DType::UInt8, DType::Int4}}) {
      const uint64_t entries = uint64_t{1} << bits(s.in);
      const uint64_t expect = a.tiu_startup + ceil_div(entries, a.macs_per_lane) +
                              ceil_div(s.c, a.lanes) * ceil_div(s.n * s.h * s.w, a.macs_per_lane);
      const ops::Lut l{.dst = int64_t(2 * bank),
                       .src = 0,
                       .table = int64_t(bank),
                       .n = s.n,
                       .c = s.c,
                       .h = s.h,
                       .w = s.w,
                       .in_dtype = int64_t(s.in),
                       .out_dtype = int64_t(s.out)};
      REQUIRE(check(l.instr(), sim::geometry(a)) == "");
      CHECK(sim::cycles(l.instr(), a) == expect);
      CHECK(run_alone(a, l.instr()) == expect);
      CHECK(sim::tiu_unit(Opcode::Lut) == sim::TiuUnit::VectorUnit);
    }
  }
  // docs/timing.md's example: default, int8 [1, 32, 8, 8] -> 10 + 16 + 2 * 4 = 34 cycles.
  const ops::Lut l{.dst = 0x4000, .src = 0, .table = 0x2000, .n = 1, .c = 32, .h = 8, .w = 8};
  CHECK(sim::cycles(l.instr(), arch_preset("default")) == 34);
}

TEST_CASE("softmax and layernorm cycles: passes over the tensor, adder trees across the lanes, table or sqrt",
          "[sim][timing]") {
  for (const Arch& a : {arch_preset("default"), arch_preset("server")}) {
    const uint64_t bank = sim::bank_bytes(a);
    struct Sh {
      int64_t n, c, h, w;
      DType in;
    };
    for (const Sh& s : {Sh{197, 1, 1, 1, DType::Int8}, Sh{4, 40, 1, 1, DType::UInt8},
                        Sh{2, 17, 3, 5, DType::Int4}, Sh{1, 1, 1, 1, DType::UInt4}}) {
      INFO(a.name << " " << s.n << "x" << s.c << "x" << s.h << "x" << s.w);
      const uint64_t stream = ceil_div(s.c, a.lanes) * ceil_div(s.n * s.h * s.w, a.macs_per_lane);
      uint64_t tree = 0;  // ceil(log2(lanes used))
      while ((uint64_t{1} << tree) < std::min<uint64_t>(s.c, a.lanes)) ++tree;
      ops::Softmax m{.dst = int64_t(2 * bank),
                     .src = 0,
                     .table = int64_t(bank),
                     .n = s.n,
                     .c = s.c,
                     .h = s.h,
                     .w = s.w,
                     .in_dtype = int64_t(s.in)};
      set_requant(m, DType::UInt8, 38);
      ops::Layernorm l{.dst = int64_t(2 * bank),
                       .src = 0,
                       .params = int64_t(bank),
                       .n = s.n,
                       .c = s.c,
                       .h = s.h,
                       .w = s.w,
                       .in_dtype = int64_t(s.in)};
      set_requant(l, DType::Int8, 30);
      REQUIRE(check(m.instr(), sim::geometry(a)) == "");
      REQUIRE(check(l.instr(), sim::geometry(a)) == "");
      const uint64_t sm =
          a.tiu_startup + 3 * stream + 2 * tree + ceil_div(uint64_t{1} << bits(s.in), a.macs_per_lane);
      const uint64_t ln = a.tiu_startup + 2 * stream + 2 * tree + 16;
      CHECK(sim::cycles(m.instr(), a) == sm);
      CHECK(run_alone(a, m.instr()) == sm);
      CHECK(sim::cycles(l.instr(), a) == ln);
      CHECK(run_alone(a, l.instr()) == ln);
    }
    CHECK(sim::tiu_unit(Opcode::Softmax) == sim::TiuUnit::VectorUnit);
    CHECK(sim::tiu_unit(Opcode::Layernorm) == sim::TiuUnit::VectorUnit);
  }
  // docs/timing.md's example: default, int8 attention scores [197, 197, 1, 1]:
  // 10 + 3 * 13 * 13 + 2 * 4 + 16 = 541 cycles; layernorm [197, 768, 1, 1]: 10 + 2 * 48 * 13 + 8 + 16.
  ops::Softmax m{.dst = 0x8000, .src = 0, .table = 0x4000, .n = 197, .c = 197, .h = 1, .w = 1};
  CHECK(sim::cycles(m.instr(), arch_preset("default")) == 541);
  ops::Layernorm l{.dst = 0x8000, .src = 0, .params = 0x4000, .n = 197, .c = 768, .h = 1, .w = 1};
  CHECK(sim::cycles(l.instr(), arch_preset("default")) == 10 + 2 * 48 * 13 + 8 + 16);
}

TEST_CASE("dma cycles: startup + latency + ceil(bytes/ddr_bpc), copy: startup + ceil(bytes/copy_bpc)",
          "[sim][timing]") {
  for (const Arch& a : arch_presets()) {
    struct Sh {
      DType t;
      int64_t n, c, h, w;
    };
    // The last one is many bursts long; int4 with an odd element count rounds the bytes up.
    for (const Sh& s :
         {Sh{DType::Int8, 1, 3, 5, 7}, Sh{DType::Int4, 1, 3, 5, 7}, Sh{DType::UInt8, 2, 16, 8, 8},
          Sh{DType::Int32, 1, 8, 4, 4}, Sh{DType::Int8, 1, 16, 80, 80}}) {
      const uint64_t elems = s.n * s.c * s.h * s.w;
      const uint64_t bytes = (elems * bits(s.t) + 7) / 8;
      const uint64_t per_lane = (s.n * ceil_div(s.c, a.lanes) * s.h * s.w * bits(s.t) + 7) / 8;
      if (2 * per_lane > a.lane_bytes) continue;
      INFO(a.name << " " << name(s.t) << " bytes=" << bytes);
      const uint64_t dma = a.gdma_startup + a.ddr_latency + ceil_div(bytes, a.ddr_bytes_per_cycle);
      const Instr ld = load(s.t, s.n, s.c, s.h, s.w, 0, 0, a.lanes);
      const Instr st = store(s.t, s.n, s.c, s.h, s.w, 0, 64, a.lanes);
      const Instr cp = copy(s.t, s.n, s.c, s.h, s.w, 0, a.lane_bytes / 2, a.lanes);
      CHECK(sim::dma_bytes(ld) == bytes);
      CHECK(sim::cycles(ld, a) == dma);
      CHECK(sim::cycles(st, a) == dma);
      CHECK(sim::cycles(cp, a) == uint64_t(a.gdma_startup + ceil_div(bytes, a.lmem_copy_bytes_per_cycle)));
      CHECK(run_alone(a, ld) == dma);
      CHECK(run_alone(a, st) == dma);
      CHECK(run_alone(a, cp) == sim::cycles(cp, a));
    }
  }
}

TEST_CASE("sync and end cost nothing, an empty program takes 0 cycles", "[sim][timing]") {
  const Arch& a = arch_preset("edge");
  CHECK(sim::cycles(sync(3), a) == 0);
  CHECK(sim::cycles(end(), a) == 0);
  Program p = program(a, {sync(1), end()}, {sync(0), end()});
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  const sim::RunResult r = sim::run(p, a, mem);
  CHECK(r.stats.total_cycles == 0);
  CHECK(r.events.size() == 4);
}

TEST_CASE("operands sharing a bank stall the TIU bank_conflict_cycles per pair", "[sim][timing]") {
  Arch a = arch_preset("default");
  a.bank_conflict_cycles = 7;
  const uint64_t bank = sim::bank_bytes(a);
  ops::Eltwise e;
  e.n = 1, e.c = 16, e.h = 4, e.w = 4, e.a_m0 = e.b_m0 = 1 << 30, e.a_shift = e.b_shift = 30;
  set_requant(e, DType::Int8);
  struct Place {
    uint64_t a, b, dst, pairs;
  };
  for (const Place& pl :
       {Place{0, bank, 2 * bank, 0}, Place{0, 64, 2 * bank, 1}, Place{0, 64, 128, 3}, Place{0, 0, bank, 1},
        Place{bank - 8, bank + 64, 3 * bank, 1}}) {  // a spans banks 0 and 1
    e.a = pl.a, e.b = pl.b, e.dst = pl.dst;
    const uint64_t pairs = pl.pairs;
    REQUIRE(check(e.instr(), sim::geometry(a)) == "");
    CHECK(sim::conflict_pairs(e.instr(), a) == pairs);
    CHECK(sim::tiu_duration(e.instr(), a) == sim::cycles(e.instr(), a) + 7 * pairs);
    CHECK(run_alone(a, e.instr()) == sim::cycles(e.instr(), a) + 7 * pairs);
  }
}

TEST_CASE("the DDR bus serialises bursts of concurrent initiators first come first served", "[sim][timing]") {
  sim::DdrBus bus;
  bus.reset(32);
  // One initiator issuing each burst when the previous leaves the bus never waits.
  uint64_t t = 0;
  for (int i = 0; i < 4; ++i) t = bus.transfer(t, 1024);
  CHECK(t == 128);
  CHECK(bus.contention_cycles() == 0);
  // Two initiators requesting at the same cycles share the bus: each burst waits for the other's.
  bus.reset(32);
  uint64_t ta = 0, tb = 0;
  for (int i = 0; i < 4; ++i) {
    ta = bus.transfer(ta, 1024);
    tb = bus.transfer(tb, 1024);
  }
  CHECK(ta == 224);  // a: bursts end at 32, 96, 160, 224
  CHECK(tb == 256);  // b: 64, 128, 192, 256 — the pair takes twice one transfer's time
  CHECK(bus.busy_cycles() == 256);
  CHECK(bus.contention_cycles() == 32 + 3 * 32 + 3 * 32);
  // A short last burst rounds up to whole beats.
  bus.reset(32);
  CHECK(bus.transfer(10, 33) == 12);
}
