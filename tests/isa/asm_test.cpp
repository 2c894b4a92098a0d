// The assembly language: examples round-trip to identical .tpu bytes, every instruction's text form
// round-trips for random field values, each kind of mistake is reported at its line, and the
// generated reference in docs/isa.md matches the ISA table.
#include "isa/asm.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "base/error.h"
#include "base/file_io.h"
#include "isa/isa_doc.h"

using namespace tpusim;

namespace {

const std::string kSourceDir = TPUSIM_SOURCE_DIR;

std::vector<std::string> example_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(kSourceDir + "/examples"))
    if (e.path().extension() == ".s") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A valid program to vary: the smallest one (each stream only ends).
const char* kMinimal = ".arch default\n.gdma\nend\n.tiu\nend\n";

// The message assemble() throws for `text` ("" when it succeeds).
std::string asm_error(const std::string& text) {
  try {
    assemble(text, "t.s");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Random valid-encoding values for every field, with extra weight on the range ends.
Instr random_instr(const OpSpec& s, std::mt19937_64& rng) {
  Instr in;
  in.op = s.op;
  for (int i = 0; i < s.nfields; ++i) {
    const FieldSpec& f = s.fields[i];
    const int64_t lo = field_min(f), hi = field_max(f);
    switch (rng() % 4) {
      case 0: in.f[i] = lo; break;
      case 1: in.f[i] = hi; break;
      default: in.f[i] = std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    }
  }
  return in;
}

}  // namespace

TEST_CASE("asm: examples assemble and survive disassembly byte for byte", "[asm]") {
  const auto files = example_files();
  REQUIRE(files.size() >= 2);
  for (const std::string& path : files) {
    INFO(path);
    const Program p = assemble(read_file_text(path), path);
    const std::vector<uint8_t> bytes = encode_program(p);
    const Program loaded = decode_program(bytes, path);
    const std::string text = disassemble(loaded);
    const Program again = assemble(text, path + ".dis");
    CHECK(again == p);
    CHECK(encode_program(again) == bytes);
    CHECK(disassemble(again) == text);  // the printed form is a fixed point
    CHECK(!p.inputs.empty());
    CHECK(!p.outputs.empty());
    CHECK(!p.debug.empty());
  }
}

TEST_CASE("asm: format_instr and parse_instr are inverses for random fields of every opcode", "[asm]") {
  std::mt19937_64 rng(20240611);
  for (const OpSpec& s : kOpSpecs) {
    INFO(s.mnemonic);
    for (int trial = 0; trial < 300; ++trial) {
      const Instr in = random_instr(s, rng);
      const std::string text = format_instr(in);
      INFO(text);
      const Instr back = parse_instr(text, "r.s");
      REQUIRE(back == in);
      CHECK(encode(back) == encode(in));
    }
  }
}

TEST_CASE("asm: format_instr prints every field in table order, enums by name, addresses in hex", "[asm]") {
  ops::Pool pool;
  pool.dst = 0x140;
  pool.mode = static_cast<int64_t>(PoolMode::Avg);
  pool.in_dtype = static_cast<int64_t>(DType::UInt4);
  pool.out_zp = -3;
  const std::string text = format_instr(pool.instr());
  CHECK(text.rfind("pool      dst=0x140 src=0x0 mode=avg n=0", 0) == 0);
  CHECK(text.find("in_dtype=uint4") != std::string::npos);
  CHECK(text.find("out_zp=-3") != std::string::npos);
  for (int i = 0; i < spec(Opcode::Pool).nfields; ++i)
    CHECK(text.find(std::string(" ") + spec(Opcode::Pool).fields[i].name + "=") != std::string::npos);
  ops::Eltwise el;
  el.op = static_cast<int64_t>(EltOp::Max);
  CHECK(format_instr(el.instr()).find(" op=max ") != std::string::npos);
}

TEST_CASE("asm: lut prints and parses back, table address in hex, dtypes by name", "[asm]") {
  const Instr in =
      parse_instr("lut table=0x100 src=0 dst=0x200 n=1 c=4 h=2 w=2 in_dtype=int4 out_dtype=uint8", "x.s");
  const ops::Lut l = ops::Lut::from(in);
  CHECK(l.table == 0x100);
  CHECK(l.in_dtype == static_cast<int64_t>(DType::Int4));
  CHECK(l.out_dtype == static_cast<int64_t>(DType::UInt8));
  const std::string text = format_instr(in);
  CHECK(text.rfind("lut", 0) == 0);
  CHECK(text.find(" dst=0x200 src=0x0 table=0x100 n=1 c=4 h=2 w=2 in_dtype=int4 out_dtype=uint8") !=
        std::string::npos);
  CHECK(parse_instr(text, "x.s") == in);
}

TEST_CASE("asm: instruction syntax: any order, omitted fields 0, numbers or names, comments", "[asm]") {
  const Instr a = parse_instr("eltwise op=1 b=16 a=0X20 # trailing comment", "x.s");
  const ops::Eltwise el = ops::Eltwise::from(a);
  CHECK(el.op == static_cast<int64_t>(EltOp::Mul));
  CHECK(el.a == 0x20);
  CHECK(el.b == 16);
  CHECK(el.dst == 0);
  CHECK(parse_instr("eltwise op=mul b=16 a=32 ; other comment", "x.s") == a);
  CHECK(ops::Conv2d::from(parse_instr("conv2d in_zp=-0x80 w_dtype=int4", "x.s")).in_zp == -128);
  CHECK(ops::Conv2d::from(parse_instr("conv2d w_dtype=2", "x.s")).w_dtype ==
        static_cast<int64_t>(DType::Int4));
}

TEST_CASE("asm: data lines: .data bytes, .bytes, .i8 and .i32 little-endian", "[asm]") {
  const Program p = assemble(std::string(kMinimal) +
                                 ".data addr=0x40 01 ff\n; comment between\n\n.bytes 7f\n.i8 -1 255\n"
                                 ".i32 -2 0x01020304\n.data addr=0x100\n",
                             "d.s");
  REQUIRE(p.data.size() == 2);
  CHECK(p.data[0].ddr_addr == 0x40);
  CHECK(p.data[0].bytes ==
        std::vector<uint8_t>{0x01, 0xff, 0x7f, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 4, 3, 2, 1});
  CHECK(p.data[1].bytes.empty());
  CHECK(assemble(disassemble(p), "d2.s") == p);
}

TEST_CASE("asm: unusual names, explicit arch and any debug map order round-trip", "[asm]") {
  Program p = assemble(read_file_text(kSourceDir + "/examples/conv_relu_pool.s"), "conv.s");
  p.arch.name = "my arch; v2";  // not a preset: printed in the explicit form
  p.arch.fingerprint = 0xfedcba9876543210ull;
  p.inputs[0].name = "in \"0\" = #1\\x";
  p.inputs[0].scale = 1e-38f;
  p.outputs[0].name = "-";
  p.outputs[0].scale = 0.1f;
  p.outputs.push_back(p.outputs[0]);
  p.outputs[1].name = "\xce\xbb/out:0";  // UTF-8 stays as is
  p.outputs[1].shape = {128};
  p.outputs[1].scale = 3.0e38f;
  p.data.push_back(DataBlock{0x9000, {}});
  validate_program(p, "varied");
  SECTION("markers, with node names needing quotes") {
    for (DebugEntry& d : p.debug) d.node = d.node == "conv1" ? "-" : "pool 1;#";
    CHECK(disassemble(p).find(".debug") == std::string::npos);
    const Program back = assemble(disassemble(p), "varied.s");
    CHECK(back == p);
    CHECK(encode_program(back) == encode_program(p));
  }
  SECTION("out of order: explicit .debug lines") {
    std::reverse(p.debug.begin(), p.debug.end());
    CHECK(disassemble(p).find(".debug engine=") != std::string::npos);
    CHECK(assemble(disassemble(p), "varied.s") == p);
  }
}

TEST_CASE("asm: each kind of mistake is reported as <source>:<line>: <problem>", "[asm]") {
  const std::string head = ".arch default\n.gdma\n";  // lines 1-2; the line under test is line 3
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {head + "frobnicate n=1\n", "t.s:3: unknown mnemonic 'frobnicate'"},
      {head + "dma.load n=1 kh=3\n", "t.s:3: dma.load has no field 'kh'"},
      {head + "dma.load n=1 n=2\n", "t.s:3: dma.load: duplicate field 'n'"},
      {head + "dma.load n=65536\n", "t.s:3: dma.load n: value 65536 is out of range [0, 65535]"},
      {head + "dma.load n=-1\n", "t.s:3: dma.load n: value -1 is out of range [0, 65535]"},
      {head + "dma.load src=0x10000000000\n",
       "t.s:3: dma.load src: value 0x10000000000 is out of range [0x0, 0xffffffffff]"},
      {head + "dma.load n=12x\n", "t.s:3: dma.load n: malformed number '12x'"},
      {head + "dma.load n\n", "t.s:3: dma.load: expected field=value, got 'n'"},
      {head + "dma.load dtype=int7\n",
       "t.s:3: dma.load dtype: 'int7' is not one of int8|uint8|int4|uint4|int32"},
      {head + "dma.load dtype=5\n", "t.s:3: dma.load dtype: value 5 is out of range [0, 4]"},
      {head + "conv2d n=1\n", "t.s:3: conv2d is a tiu instruction but the current stream is .gdma"},
      {head + "dma.load n=0 c=1 h=1 w=1\n", "t.s:3: dma.load: n 0 must be >= 1"},
      {".arch default\n\nend\n", "t.s:3: end before .gdma or .tiu"},
      {"; no arch\n.gdma\n", "t.s:2: missing .arch"},
      {"", "t.s:1: missing .arch"},
      {".arch default\n.arch edge\n", "t.s:2: duplicate .arch"},
      {".arch nosuch\n", "t.s:1: unknown architecture 'nosuch'"},
      {".arch x lanes=1\n", "t.s:1: .arch: missing key 'fingerprint'"},
      {head + ".frob\n", "t.s:3: unknown directive '.frob'"},
      {head + ".bytes 01\n", "t.s:3: .bytes must follow .data or another data line"},
      {".arch default\n.data addr=0\n.bytes 1\n", "t.s:3: malformed byte '1' (expected two hex digits)"},
      {".arch default\n.data addr=0\n.i8 300\n", "t.s:3: .i8: value 300 is out of range [-128, 255]"},
      {head + ".input name=x shape=1x2 dtype=int8 scale=1 zp=0\n", "t.s:3: .input: missing key 'addr'"},
      {head + ".input name=x shape=1x2 dtype=int8 scale=1 zp=0 addr=0 color=red\n",
       "t.s:3: .input: unknown key 'color'"},
      {head + ".output name=x name=y\n", "t.s:3: .output: duplicate key 'name'"},
      {head + ".input name=x shape=1xx2 dtype=int8 scale=1 zp=0 addr=0\n",
       "t.s:3: .input shape: malformed shape '1xx2'"},
      {head + ".input name=x shape=2 dtype=int8 scale=one zp=0 addr=0\n",
       "t.s:3: .input scale: malformed number 'one'"},
      {head + ".node \"unterminated\n", "t.s:3: unterminated string"},
      {head + ".node a\n.debug engine=tiu index=0 node=b\n", "t.s:4: cannot mix .node and .debug"},
      {head + ".gdma extra\n", "t.s:3: .gdma takes no arguments"},
      // A quoted mnemonic's escapes decode to control characters: shown escaped (fuzz_asm's long run).
      {head + "\"a\\nb\" n=1\n", "t.s:3: unknown mnemonic 'a\\x0ab'"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const std::string msg = asm_error(c.text);
    CHECK(msg.substr(0, c.message.size()) == c.message);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("asm: program-level defects come from validate_program", "[asm]") {
  CHECK(asm_error(".arch default\n.gdma\nend\n.tiu\n").rfind("t.s: ", 0) == 0);  // empty TIU stream
  CHECK(asm_error(".arch default\n.gdma\nsync count=5\nend\n.tiu\nend\n").rfind("t.s: ", 0) ==
        0);  // waits forever
  CHECK(asm_error(kMinimal).empty());
}

TEST_CASE("asm: docs/isa.md carries the current generated reference and notes on every instruction",
          "[asm][doc]") {
  const std::string path = kSourceDir + "/docs/isa.md";
  const std::string doc = read_file_text(path);
  const std::string generated = isa_reference_markdown();
  INFO("regenerate with: build/tpusim doc isa --update docs/isa.md");
  CHECK(generated_section(doc, path) == generated);
  CHECK(replace_generated_section(doc, generated, path) == doc);
  // The hand-written part (outside the markers) must say something about every instruction.
  const std::string handwritten = doc.substr(0, doc.find(kIsaRefBegin));
  for (const OpSpec& s : kOpSpecs) {
    INFO(s.mnemonic);
    CHECK(handwritten.find(std::string("`") + s.mnemonic + "`") != std::string::npos);
    CHECK(generated.find(std::string("### `") + s.mnemonic + "`") != std::string::npos);
    for (int i = 0; i < s.nfields; ++i)
      CHECK(generated.find(std::string("| `") + s.fields[i].name + "` |") != std::string::npos);
  }
}

TEST_CASE("asm: softmax and layernorm print and parse back, table and params addresses in hex", "[asm]") {
  const Instr s = parse_instr(
      "softmax table=0x100 src=0 dst=0x200 n=197 c=197 h=1 w=1 in_dtype=int8 out_dtype=uint8 m0=1073741824 "
      "shift=38 clamp_hi=255",
      "x.s");
  CHECK(ops::Softmax::from(s).table == 0x100);
  CHECK(format_instr(s).rfind("softmax", 0) == 0);
  CHECK(format_instr(s).find(" table=0x100 ") != std::string::npos);
  CHECK(parse_instr(format_instr(s), "x.s") == s);
  const Instr l = parse_instr("layernorm params=0x40 src=0 dst=0x300 n=4 c=768 h=1 w=1 eps=1234", "x.s");
  CHECK(ops::Layernorm::from(l).eps == 1234);
  CHECK(format_instr(l).find(" params=0x40 ") != std::string::npos);
  CHECK(parse_instr(format_instr(l), "x.s") == l);
}
