// isa/semantics: random field values that must never crash check, accesses or execute, and the
// checker's rejections of lut instructions (each names its field or operand).
#include <catch2/catch.hpp>
#include <functional>

#include "base/error.h"
#include "isa/semantics.h"
#include "tests/isa/semantics_ref.h"

using namespace tpusim;
using namespace semref;

namespace {

const Geometry kGeo{4, 0x8000, 1 << 20};

}  // namespace

TEST_CASE("random field values never crash check, accesses or execute") {
  Rng r(0xf022);
  Image img = make_image(r, 3, 512, 2048);
  const MemView mem{Geometry{3, 512, 4096}, img.ddr, img.lmem};  // DDR span shorter than the geometry
  int executed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    const OpSpec& s = kOpSpecs[r.uni(0, kNumOps - 1)];
    Instr in;
    in.op = s.op;
    for (int i = 0; i < s.nfields; ++i) {
      const FieldSpec& f = s.fields[i];
      const int64_t lo = field_min(f), hi = field_max(f);
      // Mostly small values (so that some instructions are valid), sometimes anything.
      if (r.coin(0.01))
        in.f[i] = static_cast<int64_t>(r.g());  // out of range
      else if (r.coin(0.93))
        in.f[i] = std::clamp(r.uni(f.kind == FieldKind::U ? 1 : -8, 8), lo, hi);
      else
        in.f[i] = r.uni(lo, hi);
    }
    accesses(in, mem.geo);
    ExecCounters counters;
    try {
      execute(in, mem, counters);
      executed += in.op != Opcode::Sync && in.op != Opcode::End;
    } catch (const Error&) {
    }
  }
  CHECK(executed > 100);
}

TEST_CASE("checker: lut operands, dtypes and the table's bounds") {
  // Valid on kGeo: int8 [1, 32, 8, 8] at 0 ([0, 0x200) per lane), the 256-entry int8 table at
  // 0x1000 in each of the 4 lanes, dst at 0x2000.
  const ops::Lut valid{.dst = 0x2000,
                       .src = 0,
                       .table = 0x1000,
                       .n = 1,
                       .c = 32,
                       .h = 8,
                       .w = 8,
                       .in_dtype = kI8,
                       .out_dtype = kI8};
  auto mutated = [&](const std::function<void(ops::Lut&)>& f) {
    ops::Lut l = valid;
    f(l);
    return check(l.instr(), kGeo);
  };
  CHECK(check(valid.instr(), kGeo) == "");
  CHECK(mutated([](ops::Lut& l) { l.w = 0; }) == "lut: w 0 must be >= 1");
  CHECK(mutated([](ops::Lut& l) { l.in_dtype = kI32; }) ==
        "lut: in_dtype int32 not allowed (int8, uint8, int4 or uint4)");
  CHECK(mutated([](ops::Lut& l) { l.out_dtype = kI32; }) ==
        "lut: out_dtype int32 not allowed (int8, uint8, int4 or uint4)");
  CHECK(mutated([](ops::Lut& l) { l.in_dtype = 5; }) == "lut: field in_dtype value 5 out of range [0, 4]");
  // The table: 256 bytes for an 8-bit input and output, 8 for int4 -> int4, 16 for int4 -> int8.
  CHECK(mutated([](ops::Lut& l) { l.table = 0x7f80; }) ==
        "lut: table footprint [0x7f80, 0x8080) exceeds lane size 0x8000");
  CHECK(mutated([](ops::Lut& l) { l.table = 0x7ff8, l.in_dtype = l.out_dtype = kI4; }) == "");
  CHECK(mutated([](ops::Lut& l) { l.table = 0x7ff8, l.in_dtype = kU4, l.out_dtype = kU8; }) ==
        "lut: table footprint [0x7ff8, 0x8008) exceeds lane size 0x8000");
  CHECK(mutated([](ops::Lut& l) { l.src = 0x7f00; }) ==
        "lut: src footprint [0x7f00, 0x8100) exceeds lane size 0x8000");
  CHECK(mutated([](ops::Lut& l) { l.dst = 0x7f00; }) ==
        "lut: dst footprint [0x7f00, 0x8100) exceeds lane size 0x8000");
  // In place on the input is fine; on the table never.
  CHECK(mutated([](ops::Lut& l) { l.dst = 0; }) == "");
  CHECK(mutated([](ops::Lut& l) { l.dst = 0, l.out_dtype = kI4; }) ==
        "lut: dst [0x0, 0x100) overlaps src [0x0, 0x200) (in place needs the same offset and element width)");
  CHECK(mutated([](ops::Lut& l) { l.dst = 0x1000; }) ==
        "lut: dst [0x1000, 0x1200) overlaps table [0x1000, 0x1100) (in place needs the same offset and "
        "element width)");
  CHECK(mutated([](ops::Lut& l) { l.table = 0x100; }) ==
        "");  // the table may overlap the input: both are read
  // accesses(): the table is read in min(c, lanes) lanes.
  const std::vector<Access> acc = accesses(ops::Lut{.dst = 0x2000,
                                                    .src = 0,
                                                    .table = 0x1000,
                                                    .n = 1,
                                                    .c = 3,
                                                    .h = 1,
                                                    .w = 1,
                                                    .in_dtype = kU4,
                                                    .out_dtype = kU8}
                                               .instr(),
                                           kGeo);
  REQUIRE(acc.size() == 3);
  CHECK(std::string(acc[1].operand) == "table");
  CHECK(acc[1].lane_hi == 3);
  CHECK(acc[1].lo == 0x1000);
  CHECK(acc[1].hi == 0x1010);
  CHECK(acc[1].bytes == 48);

  // execute() refuses what check() refuses.
  std::vector<uint8_t> lmem(4 * 0x8000), ddr(16);
  ExecCounters counters;
  ops::Lut bad = valid;
  bad.table = 0x7f80;
  CHECK_THROWS_WITH(execute(bad.instr(), MemView{kGeo, ddr, lmem}, counters),
                    "lut: table footprint [0x7f80, 0x8080) exceeds lane size 0x8000");
}
