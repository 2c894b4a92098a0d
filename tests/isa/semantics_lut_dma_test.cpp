// isa/semantics: lut and the DMAs (load, store, copy; strided and broadcast layouts) against the
// independent references of semantics_ref.h, comparing whole LMEM and DDR images.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "base/error.h"
#include "tests/isa/semantics_run.h"

using namespace tpusim;
using namespace semref;

namespace {

// The same `entries` values in lanes [0, lanes_used) at `addr` (the lut table layout).
void write_lut_table(Image& img, uint64_t addr, DType t, int64_t lanes_used,
                     const std::vector<int64_t>& table) {
  std::vector<int64_t> all;
  for (int64_t l = 0; l < lanes_used; ++l) all.insert(all.end(), table.begin(), table.end());
  write_table(img, addr, t, lanes_used, static_cast<int64_t>(table.size()), all);
}

// One lut on one lane: src [1, 1, 1, xs.size()] at 0, table at 16, dst at 320.
std::vector<int64_t> run_lut(DType in, DType out, const std::vector<int64_t>& table,
                             const std::vector<int64_t>& xs) {
  Rng r(7);
  Image img = make_image(r, 1, 512, 0);
  const auto w = static_cast<int64_t>(xs.size());
  T4 x(1, 1, 1, w);
  x.v = xs;
  write(img, compact_layout(0, 1, 1, w, 1), in, x);
  write_lut_table(img, 16, out, 1, table);
  const ops::Lut l{.dst = 320,
                   .src = 0,
                   .table = 16,
                   .n = 1,
                   .c = 1,
                   .h = 1,
                   .w = w,
                   .in_dtype = id(in),
                   .out_dtype = id(out)};
  run(l.instr(), img);
  return read(img, compact_layout(320, 1, 1, w, 1), out, 1, 1, 1, w).v;
}

}  // namespace

TEST_CASE("lut on hand-computed tables: int8 and int4, signed and unsigned, both directions") {
  // int8 -> int8: negation, saturated (entry i is the output of code i - 128).
  std::vector<int64_t> neg(256);
  for (int i = 0; i < 256; ++i) neg[static_cast<size_t>(i)] = std::min(127, -(i - 128));
  CHECK(run_lut(DType::Int8, DType::Int8, neg, {-128, -1, 0, 5, 127}) ==
        std::vector<int64_t>{127, 1, 0, -5, -127});
  // uint8 -> int4: the high nibble, recentred (entry i is the output of code i).
  std::vector<int64_t> hi(256);
  for (int i = 0; i < 256; ++i) hi[static_cast<size_t>(i)] = (i >> 4) - 8;
  CHECK(run_lut(DType::UInt8, DType::Int4, hi, {0, 15, 16, 100, 255}) ==
        std::vector<int64_t>{-8, -8, -7, -2, 7});
  // int4 -> uint4: code + 8 (entry i of code i - 8 is i itself).
  std::vector<int64_t> shift(16);
  for (int i = 0; i < 16; ++i) shift[static_cast<size_t>(i)] = i;
  CHECK(run_lut(DType::Int4, DType::UInt4, shift, {-8, -1, 0, 7, 3}) ==
        std::vector<int64_t>{0, 7, 8, 15, 11});
  // uint4 -> int8: 10 * code - 80; and uint4 -> uint8 with a reversed table.
  std::vector<int64_t> lin(16), rev(16);
  for (int i = 0; i < 16; ++i)
    lin[static_cast<size_t>(i)] = 10 * i - 80, rev[static_cast<size_t>(i)] = 255 - i;
  CHECK(run_lut(DType::UInt4, DType::Int8, lin, {0, 8, 15}) == std::vector<int64_t>{-80, 0, 70});
  CHECK(run_lut(DType::UInt4, DType::UInt8, rev, {0, 1, 15}) == std::vector<int64_t>{255, 254, 240});
  // int4 -> int8 (a 4-bit input indexing an 8-bit table) and int8 -> uint8 (the identity + 128).
  std::vector<int64_t> sq(16), id8(256);
  for (int i = 0; i < 16; ++i) sq[static_cast<size_t>(i)] = (i - 8) * (i - 8) - 64;
  for (int i = 0; i < 256; ++i) id8[static_cast<size_t>(i)] = i;
  CHECK(run_lut(DType::Int4, DType::Int8, sq, {-8, -3, 0, 7}) == std::vector<int64_t>{0, -55, -64, -15});
  CHECK(run_lut(DType::Int8, DType::UInt8, id8, {-128, 0, 127}) == std::vector<int64_t>{0, 128, 255});
}

TEST_CASE("lut matches the reference on random configurations") {
  Rng r(0x1a7);
  for (int iter = 0; iter < 150; ++iter) {
    const uint32_t lanes = any_lanes(r);
    ops::Lut l;
    l.n = r.uni(1, 2), l.c = r.uni(1, 20), l.h = r.uni(1, 5), l.w = r.uni(1, 6);
    const DType in_t = narrow_dtype(r), out_t = narrow_dtype(r);
    const int64_t entries = int64_t{1} << bits(in_t), lanes_used = std::min<int64_t>(l.c, lanes);
    const T4 x = random_tensor(r, in_t, l.n, l.c, l.h, l.w);
    const std::vector<int64_t> table = random_tensor(r, out_t, 1, 1, 1, entries).v;
    Arena a;
    const Layout in_l = a.compact(r, in_t, l.n, l.c, l.h, l.w, lanes);
    const uint64_t table_addr = a.table(r, out_t, lanes_used, entries, lanes);
    Layout out_l = a.compact(r, out_t, l.n, l.c, l.h, l.w, lanes);
    if (bits(out_t) == bits(in_t) && r.coin(0.3)) out_l = in_l;  // in place
    Image img = make_image(r, lanes, a.next + r.uni(0, 8), 0);
    write(img, in_l, in_t, x);
    write_lut_table(img, table_addr, out_t, lanes_used, table);
    l.src = in_l.addr, l.dst = out_l.addr, l.table = table_addr;
    l.in_dtype = id(in_t), l.out_dtype = id(out_t);
    INFO(fmt::format("lanes {} shape {}x{}x{}x{} {} {}", lanes, l.n, l.c, l.h, l.w, name(in_t), name(out_t)));
    const ExecCounters counters = run_and_compare(l.instr(), img, out_l, out_t, lut(x, in_t, table));
    CHECK(counters.acc_overflows == 0);
    CHECK(counters.lmem_read ==
          packed_bytes(in_t, l.n * l.c * l.h * l.w) + packed_bytes(out_t, lanes_used * entries));
  }
}

TEST_CASE("dma.load with source strides 0 broadcasts over h and w, and replicates over lanes") {
  Rng r(0xb0);
  for (const DType t : {DType::Int8, DType::Int4, DType::UInt8, DType::Int32}) {
    // DDR [2, 3] -> LMEM [2, 3, 2, 5] on 2 lanes, each (n, c) value repeated over h and w.
    const uint32_t lanes = 2;
    const int64_t n = 2, c = 3, h = 2, w = 5;
    const uint64_t ddr_addr = 8;
    const T4 x = random_tensor(r, t, n, c, 1, 1);
    Image img = make_image(r, lanes, 256, 64);
    write(img, Layout{false, ddr_addr, 3, 1, 0, 0}, t, x);  // [2, 3] compact in DDR
    T4 want(n, c, h, w);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < c; ++j)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t z = 0; z < w; ++z) want.at(i, j, y, z) = x.at(i, j, 0, 0);
    const Layout dst = compact_layout(16, c, h, w, lanes);
    const Instr in = ops::DmaLoad{id(t),
                                  n,
                                  c,
                                  h,
                                  w,
                                  int64_t{ddr_addr},
                                  3,
                                  1,
                                  0,
                                  0,
                                  16,
                                  static_cast<int64_t>(dst.sn),
                                  static_cast<int64_t>(dst.sc),
                                  static_cast<int64_t>(dst.sh),
                                  1}
                         .instr();
    INFO(name(t));
    REQUIRE(check(in, geometry(img)) == "");
    run_and_compare(in, img, dst, t, want);
  }
}

TEST_CASE("dma load, store and copy match the reference on random strided layouts") {
  Rng r(0xd0a);
  for (int iter = 0; iter < 300; ++iter) {
    const int dir = iter % 3;  // load, store, copy
    const uint32_t lanes = any_lanes(r);
    const DType t = any_dtype(r);
    const int64_t n = r.uni(1, 3), c = r.uni(1, 20), h = r.uni(1, 5), w = r.uni(1, 6);
    Layout src{dir != 0}, dst{dir != 1};
    Arena lmem, ddr;
    for (Layout* l : {&src, &dst}) {
      const uint64_t span = random_layout(r, *l, n, c, h, w, lanes);
      l->addr = (l->local ? lmem : ddr).alloc(r, packed_bytes(t, span), t);
    }
    Image img = make_image(r, lanes, lmem.next + r.uni(0, 8), ddr.next + r.uni(0, 8));
    const T4 x = random_tensor(r, t, n, c, h, w);
    write(img, src, t, x);
    const auto i64 = [](uint64_t v) { return static_cast<int64_t>(v); };
    Instr in = ops::DmaLoad{id(t),         n,           c,           h,           w,
                            i64(src.addr), i64(src.sn), i64(src.sc), i64(src.sh), i64(src.sw),
                            i64(dst.addr), i64(dst.sn), i64(dst.sc), i64(dst.sh), i64(dst.sw)}
                   .instr();
    in.op = dir == 0 ? Opcode::DmaLoad : dir == 1 ? Opcode::DmaStore : Opcode::DmaCopy;
    INFO(fmt::format("{} lanes {} {} shape {}x{}x{}x{}", spec(in.op).mnemonic, lanes, name(t), n, c, h, w));
    const ExecCounters counters = run_and_compare(in, img, dst, t, x);
    const uint64_t bytes = packed_bytes(t, n * c * h * w);
    CHECK(counters.ddr_read == (dir == 0 ? bytes : 0));
    CHECK(counters.ddr_written == (dir == 1 ? bytes : 0));
    CHECK(counters.lmem_read == (dir == 0 ? 0 : bytes));
    CHECK(counters.lmem_written == (dir == 1 ? 0 : bytes));
  }
}
