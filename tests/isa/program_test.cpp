// The .tpu container: round trip and determinism of a representative program, file I/O, and the
// semantic defects validate_program names (each asserted by its exact message). Byte-level
// defects and random mutations are in program_fuzz_test.cpp.
#include "isa/program.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "base/bytes.h"
#include "base/error.h"
#include "base/file_io.h"
#include "tests/isa/program_fixtures.h"

using namespace tpusim;
namespace fs = std::filesystem;

using namespace tpusim_test;

TEST_CASE("program helpers: ArchRef::of, TensorDesc::elements, Program::node_of", "[program]") {
  const Arch& a = arch_preset("edge");
  const ArchRef r = ArchRef::of(a);
  CHECK(r.name == "edge");
  CHECK(r.fingerprint == a.fingerprint());
  CHECK(r.lanes == a.lanes);
  CHECK(r.lane_bytes == a.lane_bytes);
  CHECK(r.ddr_bytes == a.ddr_bytes);

  TensorDesc t{"x", {2, 3, 5}, DType::Int4, 1.0f, 0, 0};
  CHECK(t.elements() == 30);
  CHECK(t.bytes() == 15);
  t.shape = {4, 0, 7};
  CHECK(t.elements() == 0);
  t.shape = {int64_t{1} << 40, int64_t{1} << 40};
  CHECK(t.elements() == std::numeric_limits<uint64_t>::max());

  const Program p = sample_program();
  CHECK(p.node_of(Engine::Tiu, 1) == "conv1");
  CHECK(p.node_of(Engine::Gdma, 1) == "conv1.weight");
  CHECK(p.node_of(Engine::Gdma, 2) == "");
  CHECK(p.node_of(Engine::Tiu, 99) == "");
}

TEST_CASE("a representative program round-trips and encodes deterministically", "[program]") {
  const Program p = sample_program();
  REQUIRE_NOTHROW(validate_program(p, "sample"));
  const std::vector<uint8_t> bytes = encode_program(p);
  CHECK(encode_program(p) == bytes);
  const Program back = decode_program(bytes, "sample.tpu");
  CHECK(back == p);
  CHECK(encode_program(back) == bytes);

  // Header fields at their documented offsets (docs/tpu-format.md).
  REQUIRE(bytes.size() > kTpuHeaderBytes);
  CHECK(std::string(bytes.begin(), bytes.begin() + 6) == "TPUSIM");
  CHECK(bytes[6] == 0x00);
  CHECK(bytes[7] == 0x1a);
  CHECK(get_le_at(bytes, 8, 2) == kTpuVersionMajor);
  CHECK(get_le_at(bytes, 10, 2) == kTpuVersionMinor);
  CHECK(get_le_at(bytes, 12, 4) == 0);
  CHECK(get_le_at(bytes, 16, 8) == bytes.size());
  CHECK(get_le_at(bytes, 28, 4) == 7);
  for (uint32_t kind = 1; kind <= 7; ++kind) {
    const Section s = find_section(bytes, kind);
    CHECK(s.offset % 8 == 0);
  }
  CHECK(find_section(bytes, 3).size ==
        static_cast<uint64_t>(8 + spec(Opcode::Conv2d).bytes() + spec(Opcode::Pool).bytes() + 8));
  CHECK(tpu_section_name(3) == std::string("code.tiu"));
  CHECK(tpu_section_name(99) == nullptr);

  // A minor version other than ours is read; optional sections are not required.
  std::vector<uint8_t> minor = bytes;
  put_le_at(minor, 10, kTpuVersionMinor + 7, 2);
  reseal_tpu(minor);
  CHECK(decode_program(minor, "minor.tpu") == p);

  Program bare;
  bare.arch = p.arch;
  bare.gdma = bare.tiu = {ops::End{}.instr()};
  CHECK(decode_program(encode_program(bare), "bare.tpu") == bare);
}

TEST_CASE("save_program and load_program through a directory", "[program]") {
  const fs::path dir = fs::temp_directory_path() / ("tpusim_program_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Program p = sample_program();
  const std::string path = (dir / "net.tpu").string();
  save_program(p, path);
  CHECK(load_program(path) == p);
  CHECK(read_file_bytes(path) == encode_program(p));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);  // no temporaries left

  // Failed saves leave no file behind: an unwritable location and an invalid program.
  const std::string nodir = (dir / "missing" / "net.tpu").string();
  require_error([&] { save_program(p, nodir); }, nodir + ": cannot write: No such file or directory");
  CHECK_FALSE(fs::exists(dir / "missing"));
  Program bad = p;
  bad.tiu.pop_back();
  const std::string badpath = (dir / "bad.tpu").string();
  require_error([&] { save_program(bad, badpath); },
                badpath + ": code.tiu: instruction 2 (pool): stream does not end with end");
  CHECK_FALSE(fs::exists(badpath));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);

  // Unreadable paths and files that are not programs.
  require_error([&] { load_program(dir.string()); }, dir.string() + ": cannot read: is a directory");
  const std::string none = (dir / "none.tpu").string();
  require_error([&] { load_program(none); }, none + ": cannot read: No such file or directory");
  const std::string empty = (dir / "empty.tpu").string();
  std::ofstream(empty).close();
  require_error([&] { load_program(empty); }, empty + ": header: empty file (not a .tpu program)");
  fs::remove_all(dir);
}

// Each defect is checked twice: validate_program on the program in memory, and decode_program on
// its encoding (the decoder validates too), with the same message. `reader_first` marks defects the
// decoder's bounds checks refuse before validation (their byte-level messages are tested in
// program_fuzz_test.cpp).
TEST_CASE("semantic defects are named by section and index", "[program]") {
  struct Case {
    const char* expected;
    std::function<void(Program&)> mutate;
    bool reader_first = false;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Case> cases{
      {"arch: lanes is 0", [](Program& p) { p.arch.lanes = 0; }},
      {"arch: lane_bytes is 0", [](Program& p) { p.arch.lane_bytes = 0; }},
      {"arch: ddr_bytes is 0", [](Program& p) { p.arch.ddr_bytes = 0; }},
      {"arch: ddr_bytes 2199023255552 exceeds the DDR address space (1099511627776)",
       [](Program& p) { p.arch.ddr_bytes = uint64_t{1} << 41; }},
      {"code.gdma: empty stream (it must end with end)", [](Program& p) { p.gdma.clear(); }},
      {"code.tiu: instruction 2 (pool): stream does not end with end", [](Program& p) { p.tiu.pop_back(); }},
      {"code.tiu: instruction 4 (conv2d): instruction after end",
       [](Program& p) { p.tiu.push_back(p.tiu[1]); }},
      {"code.gdma: instruction 3 (conv2d): tiu instruction in the gdma stream",
       [](Program& p) { p.gdma[3] = p.tiu[1]; }},
      {"code.tiu: instruction 0 (dma.load): gdma instruction in the tiu stream",
       [](Program& p) { p.tiu[0] = p.gdma[0]; }},
      {"code.tiu: instruction 1 (conv2d): groups 3 does not divide ic 16",
       [](Program& p) { p.tiu[1].f[spec(Opcode::Conv2d).field_index("groups")] = 3; }},
      {"code.gdma: instruction 2 (dma.load): dst address 0x202 of an int32 operand is not 4-byte aligned",
       [](Program& p) { p.gdma[2].f[spec(Opcode::DmaLoad).field_index("dst")] = 514; }},
      {"code.tiu: instruction 0 (sync): count 7 exceeds the 6 instructions of the gdma stream (would wait "
       "forever)",
       [](Program& p) { p.tiu[0] = ops::Sync{7}.instr(); }},
      {"data: block 1: bytes [0xffffff0, +64) lie outside DDR (268435456 bytes)",
       [](Program& p) { p.data[1].ddr_addr = (256u << 20) - 16; }},
      {"data: block 1 at 0x10010 overlaps block 0 [0x10000, 0x10900)",
       [](Program& p) { p.data[1].ddr_addr = 0x10010; }},
      {"inputs: tensor 0 'image': rank 0 (must be 1..8)", [](Program& p) { p.inputs[0].shape.clear(); }},
      {"inputs: tensor 0 'image': rank 9 (must be 1..8)",
       [](Program& p) { p.inputs[0].shape = {1, 1, 1, 1, 1, 1, 1, 1, 1}; }, true},
      {"inputs: tensor 0 'image': dimension 2 is 0 (must be >= 1)",
       [](Program& p) { p.inputs[0].shape[2] = 0; }},
      {"inputs: tensor 0 'image': shape 65536x65536x65536 does not fit in DDR (268435456 bytes)",
       [](Program& p) {
         p.inputs[0].shape = {65536, 65536, 65536};
       }},
      {"inputs: tensor 0 'image': scale nan (must be finite and > 0)",
       [nan](Program& p) { p.inputs[0].scale = nan; }},
      {"outputs: tensor 0 'pool1.out': scale -0.5 (must be finite and > 0)",
       [](Program& p) { p.outputs[0].scale = -0.5f; }},
      {"outputs: tensor 0 'pool1.out': zero point 128 is outside int8 [-128, 127]",
       [](Program& p) { p.outputs[0].zero_point = 128; }},
      {"outputs: tensor 0 'pool1.out': bytes [0xffffff8, +256) lie outside DDR (268435456 bytes)",
       [](Program& p) { p.outputs[0].ddr_addr = (256u << 20) - 8; }},
      {"inputs: tensor 1 'image': duplicate name", [](Program& p) { p.inputs.push_back(p.inputs[0]); }},
      {"inputs: tensor 0: name is empty", [](Program& p) { p.inputs[0].name.clear(); }},
      {"inputs: tensor 0: name contains control character 0x0a",
       [](Program& p) { p.inputs[0].name = "a\nb"; }},
      {"outputs: tensor 0: name is 4097 bytes long (limit 4096)",
       [](Program& p) { p.outputs[0].name = std::string(4097, 'x'); }, true},
      {"debug: entry 1: instruction 4 is past the end of code.tiu (4 instructions)",
       [](Program& p) { p.debug[1].index = 4; }},
      {"debug: entry 2: second entry for code.tiu instruction 1",
       [](Program& p) {
         p.debug[2] = {Engine::Tiu, 1, "again"};
       }},
      {"debug: entry 0: node name is empty", [](Program& p) { p.debug[0].node.clear(); }},
      {"debug: entry 1: engine 2 has no stream", [](Program& p) { p.debug[1].engine = Engine::Sys; }, true},
      {"code.tiu: instruction 2 (pool): field mode = 2 is out of range [0, 1]",
       [](Program& p) { p.tiu[2].f[spec(Opcode::Pool).field_index("mode")] = 2; }, true},
  };
  for (const Case& c : cases) {
    Program p = sample_program();
    c.mutate(p);
    INFO("case: " << c.expected);
    require_error([&] { validate_program(p, "mem"); }, std::string("mem: ") + c.expected);
    if (c.reader_first)
      CHECK_THROWS_AS(decode_program(encode_program(p), "bad.tpu"), Error);  // encode may refuse too
    else
      require_error([&] { decode_program(encode_program(p), "bad.tpu"); },
                    std::string("bad.tpu: ") + c.expected);
  }
}
