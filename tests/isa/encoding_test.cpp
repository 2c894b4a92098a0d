// The encoder and decoder derived from the ISA table: round trips, exact bit placement checked
// against a hand-written expectation, and rejection of malformed words.
#include <catch2/catch.hpp>
#include <random>

#include "base/error.h"
#include "isa/dtype.h"
#include "isa/isa.h"

using namespace tpusim;

namespace {
// A random valid value for a field.
int64_t random_value(const FieldSpec& f, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> d(field_min(f), field_max(f));
  return d(rng);
}
}  // namespace

TEST_CASE("every opcode round-trips random field values", "[isa]") {
  std::mt19937_64 rng(1);
  for (const OpSpec& s : kOpSpecs) {
    for (int rep = 0; rep < 200; ++rep) {
      Instr in;
      in.op = s.op;
      for (int i = 0; i < s.nfields; ++i) in.f[i] = random_value(s.fields[i], rng);
      // Include the extremes of every field.
      if (rep == 0)
        for (int i = 0; i < s.nfields; ++i) in.f[i] = field_min(s.fields[i]);
      if (rep == 1)
        for (int i = 0; i < s.nfields; ++i) in.f[i] = field_max(s.fields[i]);
      auto bytes = encode(in);
      REQUIRE(bytes.size() == static_cast<size_t>(s.bytes()));
      REQUIRE(bytes[0] == static_cast<uint8_t>(s.op));
      size_t used = 0;
      std::string err;
      auto back = decode(bytes, &used, &err);
      INFO(s.mnemonic << ": " << err);
      REQUIRE(back.has_value());
      REQUIRE(used == bytes.size());
      REQUIRE(*back == in);
    }
  }
}

TEST_CASE("bit placement: opcode in bits 0-7, fields LSB-first in table order", "[isa]") {
  ops::Sync s;
  s.count = 0x12345678;
  auto b = encode(s.instr());
  REQUIRE(b == std::vector<uint8_t>{0x02, 0x78, 0x56, 0x34, 0x12, 0, 0, 0});

  // dma.load: dtype (3 bits) at bit 8, n (16 bits) at bit 11.
  ops::DmaLoad d;
  d.dtype = 4;  // int32
  d.n = 0xFFFF;
  auto e = encode(d.instr());
  REQUIRE(e.size() == 56);  // 411 bits -> 7 words
  const uint64_t w0 = [&] {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{e[i]} << (8 * i);
    return v;
  }();
  REQUIRE((w0 & 0xFF) == 0x10);
  REQUIRE(((w0 >> 8) & 0x7) == 4);
  REQUIRE(((w0 >> 11) & 0xFFFF) == 0xFFFF);
  REQUIRE((w0 >> 27) == 0);
}

TEST_CASE("lut: 150 bits in 3 words, fields in table order", "[isa]") {
  const ops::Lut l{.dst = 0xABCDEF,
                   .src = 0x123456,
                   .table = 0x0F0F0F,
                   .n = 1,
                   .c = 0xFFFF,
                   .h = 3,
                   .w = 4,
                   .in_dtype = static_cast<int64_t>(DType::UInt4),
                   .out_dtype = static_cast<int64_t>(DType::Int8)};
  REQUIRE(spec(Opcode::Lut).bytes() == 24);  // 8 + 3*24 + 4*16 + 2*3 = 150 bits
  const std::vector<uint8_t> b = encode(l.instr());
  REQUIRE(b.size() == 24);
  auto bits_at = [&](int pos, int width) {
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v |= uint64_t{(b[(pos + i) / 8] >> ((pos + i) % 8)) & 1u} << i;
    return v;
  };
  CHECK(b[0] == 0x25);
  CHECK(bits_at(8, 24) == 0xABCDEF);    // dst
  CHECK(bits_at(32, 24) == 0x123456);   // src
  CHECK(bits_at(56, 24) == 0x0F0F0F);   // table
  CHECK(bits_at(80, 16) == 1);          // n
  CHECK(bits_at(96, 16) == 0xFFFF);     // c
  CHECK(bits_at(112, 16) == 3);         // h
  CHECK(bits_at(128, 16) == 4);         // w
  CHECK(bits_at(144, 3) == 3);          // in_dtype uint4
  CHECK(bits_at(147, 3) == 0);          // out_dtype int8
  CHECK(bits_at(150, 192 - 150) == 0);  // reserved
  const auto back = decode(b, nullptr, nullptr);
  REQUIRE(back);
  CHECK(*back == l.instr());
}

TEST_CASE("signed fields sign-extend", "[isa]") {
  ops::Requant r;
  r.n = r.c = r.h = r.w = 1;
  r.in_zp = -32768;
  r.clamp_lo = INT32_MIN;
  r.clamp_hi = -1;
  auto back = decode(encode(r.instr()), nullptr, nullptr);
  REQUIRE(back);
  auto v = ops::Requant::from(*back);
  REQUIRE(v.in_zp == -32768);
  REQUIRE(v.clamp_lo == INT32_MIN);
  REQUIRE(v.clamp_hi == -1);
}

TEST_CASE("encode rejects out-of-range field values, naming the field", "[isa]") {
  ops::Conv2d c;
  c.kh = 256;  // 8 bits
  REQUIRE_THROWS_WITH(encode(c.instr()), Catch::Contains("conv2d: field kh = 256"));
  ops::Eltwise e;
  e.op = 3;  // not add/mul/max
  REQUIRE_THROWS_WITH(encode(e.instr()), Catch::Contains("field op"));
  ops::DmaStore s;
  s.dtype = 5;
  REQUIRE_THROWS_AS(encode(s.instr()), Error);
}

TEST_CASE("decode rejects unknown opcodes, truncation, bad enums and reserved bits", "[isa]") {
  std::string err;
  std::vector<uint8_t> bad{0x7f, 0, 0, 0, 0, 0, 0, 0};
  REQUIRE_FALSE(decode(bad, nullptr, &err));
  REQUIRE(err == "unknown opcode 0x7f");

  auto conv = encode(ops::Conv2d{}.instr());
  REQUIRE_FALSE(decode(std::span(conv).first(20), nullptr, &err));
  REQUIRE(err.find("truncated conv2d") != std::string::npos);

  auto end = encode(ops::End{}.instr());
  end[7] = 0x80;  // past the opcode: reserved
  REQUIRE_FALSE(decode(end, nullptr, &err));
  REQUIRE(err == "end: reserved bits set");

  auto dma = encode(ops::DmaCopy{}.instr());
  dma[1] |= 0x7;  // dtype = 7
  REQUIRE_FALSE(decode(dma, nullptr, &err));
  REQUIRE(err.find("field dtype") != std::string::npos);

  REQUIRE_THROWS_WITH(decode_stream(bad, "code.tiu"), "code.tiu: instruction 0: unknown opcode 0x7f");
}

TEST_CASE("stream round trip", "[isa]") {
  std::vector<Instr> code{ops::Sync{3}.instr(), ops::Pool{}.instr(), ops::End{}.instr()};
  auto bytes = encode_stream(code);
  REQUIRE(decode_stream(bytes, "s") == code);
}

TEST_CASE("spec lookups", "[isa]") {
  REQUIRE(find_spec("conv2d")->op == Opcode::Conv2d);
  REQUIRE(find_spec("nope") == nullptr);
  REQUIRE(find_spec(uint8_t{0}) == nullptr);
  REQUIRE(spec(Opcode::DmaLoad).engine == Engine::Gdma);
  REQUIRE(spec(Opcode::Conv2d).field_index("shift") >= 0);
  static_assert(kOpSpecs[5].field_index("kh") == 9, "conv2d: kh follows dst src weight bias n ic ih iw oc");
}

TEST_CASE("softmax and layernorm: sizes and the fields after the shape in table order", "[isa]") {
  // softmax: 8 + 3*24 + 4*16 + 3 + the requant tail (3+16+1+24+31+6+32+32 = 145) = 292 bits -> 5 words;
  // layernorm: 32 more (eps) = 324 bits -> 6 words.
  REQUIRE(spec(Opcode::Softmax).bytes() == 40);
  REQUIRE(spec(Opcode::Layernorm).bytes() == 48);
  ops::Layernorm l{.dst = 1, .src = 2, .params = 0xABCDEF, .n = 197, .c = 768, .h = 1, .w = 1};
  l.in_dtype = static_cast<int64_t>(DType::UInt8), l.eps = 0xFEDCBA98, l.out_dtype = 2;
  const std::vector<uint8_t> b = encode(l.instr());
  auto bits_at = [&](int pos, int width) {
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v |= uint64_t{(b[(pos + i) / 8] >> ((pos + i) % 8)) & 1u} << i;
    return v;
  };
  CHECK(b[0] == 0x27);
  CHECK(bits_at(56, 24) == 0xABCDEF);     // params
  CHECK(bits_at(80, 16) == 197);          // n
  CHECK(bits_at(96, 16) == 768);          // c
  CHECK(bits_at(144, 3) == 1);            // in_dtype uint8
  CHECK(bits_at(147, 32) == 0xFEDCBA98);  // eps
  CHECK(bits_at(179, 3) == 2);            // out_dtype int4
  const auto back = decode(b, nullptr, nullptr);
  REQUIRE(back.has_value());
  CHECK(*back == l.instr());
  CHECK(encode(ops::Softmax{.n = 1, .c = 1, .h = 1, .w = 1}.instr())[0] == 0x26);
}
