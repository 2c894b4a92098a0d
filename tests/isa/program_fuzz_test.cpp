// Hostile .tpu bytes: a corpus of targeted defects (generated here from a valid program, each with
// the exact error line it must produce) and random mutations that must either decode or throw
// tpusim::Error with one line — never crash, hang or throw anything else (run under ASan/UBSan).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <functional>
#include <random>

#include "base/bytes.h"
#include "base/error.h"
#include "isa/program.h"
#include "tests/isa/program_fixtures.h"

using namespace tpusim;

using namespace tpusim_test;

namespace {

// Section kinds and the table entry index each has in an encoded program (written in kind order).
enum : uint32_t { kArch = 1, kGdma = 2, kTiu = 3, kData = 4, kInputs = 5, kOutputs = 6, kDebug = 7 };
size_t entry_at(uint32_t kind) { return kTpuHeaderBytes + (kind - 1) * kTpuSectionEntryBytes; }

// Bit position of a field in its instruction (opcode first, then fields LSB-first in table order).
uint64_t field_bit(Opcode op, std::string_view field) {
  const OpSpec& s = spec(op);
  uint64_t bit = kOpcodeBits;
  for (int i = 0; i < s.field_index(field); ++i) bit += s.fields[i].bits;
  return bit;
}

struct Defect {
  std::string name;
  std::function<void(std::vector<uint8_t>&)> mutate;                 // applied to the encoded sample
  bool reseal;                                                       // fix size and checksum afterwards
  std::function<std::string(const std::vector<uint8_t>&)> expected;  // from the mutated bytes
};

std::function<std::string(const std::vector<uint8_t>&)> is(std::string s) {
  return [s](const std::vector<uint8_t>&) { return s; };
}

std::vector<Defect> defects(const std::vector<uint8_t>& good) {
  const uint64_t n = good.size();
  const Section arch = find_section(good, kArch), tiu = find_section(good, kTiu),
                data = find_section(good, kData), inputs = find_section(good, kInputs),
                debug = find_section(good, kDebug);
  const uint64_t conv_bytes = spec(Opcode::Conv2d).bytes();
  const uint64_t conv_at = tiu.offset + 8, in_dtype_bit = field_bit(Opcode::Conv2d, "in_dtype");
  const uint64_t pool_at = conv_at + conv_bytes, end_at = pool_at + spec(Opcode::Pool).bytes();
  const uint64_t tensor0 = inputs.offset + 4, dtype_at = tensor0 + 4 + 5;  // after count, name "image"
  auto set = [](size_t at, uint64_t v, int bytes) {
    return [=](std::vector<uint8_t>& b) { put_le_at(b, at, v, bytes); };
  };
  return {
      {"empty file", [](auto& b) { b.clear(); }, false, is("header: empty file (not a .tpu program)")},
      {"bad magic", [](auto& b) { b[0] = 0x7f; }, false,
       is("header: bad magic 7f 50 55 53 49 4d 00 1a (not a .tpu program)")},
      {"text file",
       [](auto& b) {
         b.assign({'h', 'i', '\n'});
       },
       false, is("header: bad magic 68 69 0a (not a .tpu program)")},
      {"truncated header", [](auto& b) { b.resize(12); }, false, is("header: truncated: 12 of 32 bytes")},
      {"future major version", set(8, 2, 2), false,
       is("header: format version 2.0 is newer than this tpusim reads (1.x): upgrade tpusim")},
      {"major version 0", set(8, 0, 2), false,
       is("header: format version 0.0 is not supported (this tpusim reads 1.x)")},
      {"unknown flags", set(12, 4, 4), false, is("header: unknown flags 0x00000004")},
      {"truncated file", [](auto& b) { b.erase(b.end() - 10, b.end()); }, false,
       is(fmt::format("header: truncated: file has {} bytes, header records {}", n - 10, n))},
      {"trailing bytes",
       [](auto& b) {
         b.insert(b.end(), {1, 2, 3});
       },
       false, is(fmt::format("header: 3 unexpected bytes after the recorded end of file ({} bytes)", n))},
      {"checksum mismatch", [=](auto& b) { b[data.offset + 30] ^= 0x10; }, false,
       [](const std::vector<uint8_t>& b) {
         std::vector<uint8_t> sealed = b;
         reseal_tpu(sealed);
         return fmt::format(
             "header: checksum mismatch (stored 0x{:08x}, computed 0x{:08x}): the file is corrupted",
             get_le_at(b, 24, 4), get_le_at(sealed, 24, 4));
       }},
      {"section table past the end", set(28, 1000, 4), true,
       is(fmt::format("section table: 1000 entries do not fit in the file ({} bytes)", n))},
      {"section past the end", set(entry_at(kData) + 12, n, 8), true,
       is(fmt::format(
           "section table: entry 3 (data): offset {} + size {} runs past the end of the file ({} bytes)",
           data.offset, n, n))},
      {"section size overflows", set(entry_at(kData) + 12, ~uint64_t{0}, 8), true,
       is(fmt::format(
           "section table: entry 3 (data): offset {} + size {} runs past the end of the file ({} bytes)",
           data.offset, ~uint64_t{0}, n))},
      {"section inside the table", set(entry_at(kArch) + 4, 40, 8), true,
       is("section table: entry 0 (arch): offset 40 lies inside the header or section table")},
      {"overlapping sections", set(entry_at(kInputs) + 4, data.offset + 8, 8), true,
       is(fmt::format("section table: entry 4 (inputs) [{}, {}) overlaps entry 3 (data) [{}, {})",
                      data.offset + 8, data.offset + 8 + inputs.size, data.offset, data.offset + data.size))},
      {"duplicate section kind", set(entry_at(kInputs), kTiu, 4), true,
       is("section table: entry 4 (code.tiu): duplicate section (first is entry 2)")},
      {"unknown section kind", set(entry_at(kDebug), 0x63, 4), true,
       is("section table: entry 6: unknown section kind 0x00000063 (written by a newer tpusim?)")},
      {"missing code section", set(entry_at(kTiu), kTpuOptionalSectionBit | 0x63, 4), true,
       is("section table: required section code.tiu is missing")},
      {"string length past end", set(arch.offset, 1000, 4), true,
       is(fmt::format("arch: name: truncated (needs 1000 bytes, {} left) at offset {}", arch.size - 4,
                      arch.offset + 4))},
      {"string longer than the cap", set(arch.offset, 5000, 4), true,
       is(fmt::format("arch: name length 5000 exceeds the limit of 4096 at offset {}", arch.offset))},
      {"trailing bytes in a section", set(entry_at(kArch) + 12, arch.size + 1, 8), true,
       is(fmt::format("arch: 1 unexpected bytes after the last record at offset {}",
                      arch.offset + arch.size))},
      {"huge tensor count", set(inputs.offset, 0xffffffff, 4), true,
       is(fmt::format("inputs: 4294967295 tensors cannot fit in the {} bytes left at offset {}",
                      inputs.size - 4, inputs.offset + 4))},
      {"huge data block", set(data.offset + 12, uint64_t{1} << 63, 8), true,
       is(fmt::format(
           "data: block 0: contents: truncated (needs 9223372036854775808 bytes, {} left) at offset {}",
           data.size - 20, data.offset + 20))},
      {"huge debug count", set(debug.offset, 0x10000000, 4), true,
       is(fmt::format("debug: 268435456 entries cannot fit in the {} bytes left at offset {}", debug.size - 4,
                      debug.offset + 4))},
      {"bad dtype id", set(dtype_at, 7, 1), true,
       is(fmt::format("inputs: tensor 0: dtype id 7 is not an element type at offset {}", dtype_at))},
      {"rank 9", set(dtype_at + 1, 9, 1), true,
       is(fmt::format("inputs: tensor 0: rank 9 exceeds 8 at offset {}", dtype_at + 1))},
      {"rank 0", set(dtype_at + 1, 0, 1), true,  // the dims then read as the rest of the record
       is(fmt::format("inputs: {} unexpected bytes after the last record at offset {}", 32,
                      inputs.offset + inputs.size - 32))},
      {"unknown opcode", set(pool_at, 0x7f, 1), true,
       is(fmt::format("code.tiu: instruction 2: unknown opcode 0x7f at offset {}", pool_at))},
      {"truncated instruction", set(entry_at(kTiu) + 12, tiu.size - 4, 8), true,
       is(fmt::format("code.tiu: instruction 3: truncated end: needs 8 bytes, 4 left at offset {}", end_at))},
      {"reserved bits", set(end_at + 7, 0x80, 1), true,
       is(fmt::format("code.tiu: instruction 3: end: reserved bits set at offset {}", end_at))},
      {"bad dtype field", [=](auto& b) { b[conv_at + in_dtype_bit / 8] |= 7 << (in_dtype_bit % 8); }, true,
       is(fmt::format("code.tiu: instruction 1: conv2d: field in_dtype: value 7 is not valid at offset {}",
                      conv_at))},
      {"missing end", set(entry_at(kTiu) + 12, tiu.size - 8, 8), true,
       is("code.tiu: instruction 2 (pool): stream does not end with end")},
      {"debug engine id", set(debug.offset + 4, 2, 1), true,
       is(fmt::format("debug: entry 0: engine id 2 is not gdma (0) or tiu (1) at offset {}",
                      debug.offset + 4))},
      {"debug index out of range", set(debug.offset + 5, 1000, 4), true,
       is("debug: entry 0: instruction 1000 is past the end of code.tiu (4 instructions)")},
      {"address past DDR", set(inputs.offset + inputs.size - 8, uint64_t{1} << 28, 8), true,
       is("inputs: tensor 0 'image': bytes [0x10000000, +1024) lie outside DDR (268435456 bytes)")},
  };
}

}  // namespace

TEST_CASE("broken .tpu corpus: each defect gives its own error line", "[program]") {
  const std::vector<uint8_t> good = encode_program(sample_program());
  REQUIRE_NOTHROW(decode_program(good, "good.tpu"));
  for (const Defect& d : defects(good)) {
    std::vector<uint8_t> bytes = good;
    d.mutate(bytes);
    if (d.reseal) reseal_tpu(bytes);
    INFO("defect: " << d.name);
    require_error([&] { decode_program(bytes, "broken.tpu"); }, "broken.tpu: " + d.expected(bytes));
  }
}

TEST_CASE("an unknown optional section is skipped", "[program]") {
  Program p = sample_program();
  std::vector<uint8_t> bytes = encode_program(p);
  put_le_at(bytes, entry_at(kDebug), kTpuOptionalSectionBit | 0x63, 4);
  reseal_tpu(bytes);
  p.debug.clear();
  CHECK(decode_program(bytes, "newer.tpu") == p);
}

namespace {

// One random edit of the kinds a damaged or hostile file shows. `in_place` keeps the size (and so
// the section table's view of it), which lets more edits reach the section parsers.
void mutate(std::vector<uint8_t>& b, const std::vector<std::vector<uint8_t>>& donors, bool in_place,
            std::mt19937_64& rng) {
  auto pick = [&](uint64_t n) {
    return n == 0 ? uint64_t{0} : std::uniform_int_distribution<uint64_t>(0, n - 1)(rng);
  };
  static constexpr uint64_t kInteresting[] = {0,
                                              1,
                                              2,
                                              7,
                                              8,
                                              0x7f,
                                              0x80,
                                              0xff,
                                              0xffff,
                                              0x7fffffff,
                                              0x80000000,
                                              0xffffffff,
                                              uint64_t{1} << 40,
                                              ~uint64_t{0} >> 1,
                                              ~uint64_t{0}};
  switch (in_place ? (pick(4) == 3 ? 6 : pick(3)) : pick(7)) {
    case 0:  // flip 1-4 bits
      for (uint64_t i = 0, k = 1 + pick(4); i < k && !b.empty(); ++i)
        b[pick(b.size())] ^= uint8_t(1u << pick(8));
      break;
    case 1:  // overwrite 1-8 bytes
      for (uint64_t i = 0, k = 1 + pick(8); i < k && !b.empty(); ++i) b[pick(b.size())] = uint8_t(pick(256));
      break;
    case 2:  // an interesting little-endian value over a length, count, offset or field
      if (b.size() >= 8) {
        const int width = 1 << pick(4);  // 1, 2, 4 or 8 bytes
        put_le_at(b, pick(b.size() - width + 1), kInteresting[pick(std::size(kInteresting))], width);
      }
      break;
    case 3: {  // insert 1-16 random bytes
      std::vector<uint8_t> ins(1 + pick(16));
      for (auto& x : ins) x = uint8_t(pick(256));
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), ins.begin(), ins.end());
      break;
    }
    case 4: {  // delete a range
      const uint64_t at = pick(b.size() + 1), len = std::min<uint64_t>(1 + pick(32), b.size() - at);
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + len));
      break;
    }
    case 5:  // truncate
      b.resize(pick(b.size() + 1));
      break;
    default: {  // splice: overwrite with a chunk of another valid program
      const auto& d = donors[pick(donors.size())];
      const uint64_t from = pick(d.size()), len = std::min<uint64_t>(1 + pick(64), d.size() - from);
      const uint64_t to = pick(b.size() + 1);
      if (to + len > b.size()) {
        if (in_place) break;
        b.resize(to + len);
      }
      std::copy_n(d.begin() + static_cast<std::ptrdiff_t>(from), len,
                  b.begin() + static_cast<std::ptrdiff_t>(to));
      break;
    }
  }
}

int env_or(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

}  // namespace

TEST_CASE("random byte mutations decode or throw one Error line, never crash", "[program][fuzz]") {
  Program bare = sample_program();
  bare.data.clear(), bare.inputs.clear(), bare.outputs.clear(), bare.debug.clear();
  bare.gdma = {ops::End{}.instr()}, bare.tiu = {ops::End{}.instr()};
  Program edge = sample_program();
  edge.arch = ArchRef::of(arch_preset("server"));
  const std::vector<std::vector<uint8_t>> valid{encode_program(sample_program()), encode_program(bare),
                                                encode_program(edge)};
  // Half keep their damaged header; the other half get size and checksum repaired so the parser
  // behind the checksum sees the damage, and half of those keep the file size. Longer campaigns:
  // TPUSIM_FUZZ_MUTATIONS=1000000 TPUSIM_FUZZ_SEED=7 test_program "[fuzz]".
  const int kMutations = env_or("TPUSIM_FUZZ_MUTATIONS", 40000);
  const uint64_t seed = static_cast<uint64_t>(env_or("TPUSIM_FUZZ_SEED", 20240611));
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  int accepted[2] = {0, 0}, rejected[2] = {0, 0};
  for (int i = 0; i < kMutations; ++i) {
    const bool resealed = i % 2 == 1;
    std::vector<uint8_t> bytes = valid[static_cast<size_t>(i) % valid.size()];
    for (int k = 0, edits = 1 + static_cast<int>(rng() % 3); k < edits; ++k)
      mutate(bytes, valid, resealed && i % 4 == 1, rng);
    if (resealed && bytes.size() >= kTpuHeaderBytes) reseal_tpu(bytes);
    INFO("mutation " << i << (resealed ? " (resealed)" : ""));
    try {
      const Program p = decode_program(bytes, "fuzz.tpu");
      ++accepted[resealed];
      // Whatever was accepted is a valid program: it re-encodes and decodes to itself.
      REQUIRE(decode_program(encode_program(p), "again.tpu") == p);
    } catch (const Error& e) {
      ++rejected[resealed];
      const std::string msg = e.what();
      REQUIRE(msg.rfind("fuzz.tpu: ", 0) == 0);
      REQUIRE(msg.find('\n') == std::string::npos);
    } catch (const std::exception& e) {
      FAIL("mutation " << i << ": unexpected exception: " << e.what());
    }
  }
  WARN("fuzz: unsealed accepted " << accepted[0] << " rejected " << rejected[0] << "; resealed accepted "
                                  << accepted[1] << " rejected " << rejected[1]);
  CHECK(accepted[0] + rejected[0] + accepted[1] + rejected[1] == kMutations);
  CHECK(accepted[1] > 0);                        // e.g. a changed weight byte is still a valid program
  CHECK(rejected[1] > kMutations / 4);           // the parser beyond the checksum refuses most damage
  CHECK(rejected[0] > kMutations / 2 * 9 / 10);  // without repair the checksum catches nearly all
}
