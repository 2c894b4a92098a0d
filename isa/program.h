// A tpusim program in memory and its .tpu container (format documented in docs/tpu-format.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "isa/arch.h"
#include "isa/dtype.h"
#include "isa/isa.h"

namespace tpusim {

// What a program records of the architecture it was compiled for: enough to validate addresses
// on load without the architecture at hand, and the fingerprint to refuse another one at run time.
struct ArchRef {
  std::string name;
  uint64_t fingerprint = 0;
  uint32_t lanes = 0;
  uint32_t lane_bytes = 0;
  uint64_t ddr_bytes = 0;

  static ArchRef of(const Arch& a);
  bool operator==(const ArchRef&) const = default;
};

// An input or output tensor: compact NCHW (row-major) in DDR at ddr_addr.
struct TensorDesc {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::Int8;
  float scale = 1.0f;
  int32_t zero_point = 0;
  uint64_t ddr_addr = 0;

  uint64_t elements() const;
  uint64_t bytes() const { return packed_bytes(dtype, elements()); }
  bool operator==(const TensorDesc&) const = default;
};

// Constant bytes (weights, biases, requant tables) placed in DDR before the run.
struct DataBlock {
  uint64_t ddr_addr = 0;
  std::vector<uint8_t> bytes;
  bool operator==(const DataBlock&) const = default;
};

// Debug map: instruction `index` of `engine`'s stream came from graph node `node`.
struct DebugEntry {
  Engine engine = Engine::Tiu;
  uint32_t index = 0;
  std::string node;
  bool operator==(const DebugEntry&) const = default;
};

struct Program {
  ArchRef arch;
  std::vector<Instr> gdma;  // GDMA stream (dma.* and sys instructions)
  std::vector<Instr> tiu;   // TIU stream (compute and sys instructions)
  std::vector<DataBlock> data;
  std::vector<TensorDesc> inputs;
  std::vector<TensorDesc> outputs;
  std::vector<DebugEntry> debug;

  const std::vector<Instr>& stream(Engine e) const { return e == Engine::Gdma ? gdma : tiu; }
  std::vector<Instr>& stream(Engine e) { return e == Engine::Gdma ? gdma : tiu; }
  // Node name of an instruction, "" when the debug map has none.
  std::string node_of(Engine e, uint32_t index) const;
  bool operator==(const Program&) const = default;
};

inline constexpr uint16_t kTpuVersionMajor = 1;
inline constexpr uint16_t kTpuVersionMinor = 0;

// Container layout constants (docs/tpu-format.md). Section kind ids are part of the format: never
// reuse or renumber them.
enum class TpuSection : uint32_t {
  Arch = 1,
  CodeGdma = 2,
  CodeTiu = 3,
  Data = 4,
  Inputs = 5,
  Outputs = 6,
  Debug = 7
};
// Kinds with this bit set are optional: a reader that does not know one skips it (how a newer
// minor version adds information); any other unknown kind is refused.
inline constexpr uint32_t kTpuOptionalSectionBit = 0x8000'0000u;
inline constexpr size_t kTpuHeaderBytes = 32;
inline constexpr size_t kTpuSectionEntryBytes = 20;
inline constexpr size_t kTpuMaxString = 4096;  // names and node names, bytes
inline constexpr size_t kTpuMaxRank = 8;
// "code.tiu", ...; nullptr for a kind this version does not know.
const char* tpu_section_name(uint32_t kind);

// The framing of an encoded program: its version and section table (for `tpusim info`). Checks
// the header and table as decode_program does and throws the same errors.
struct TpuLayout {
  uint16_t version_major = 0, version_minor = 0;
  struct Section {
    uint32_t kind;
    uint64_t offset, size;
  };
  std::vector<Section> sections;
};
TpuLayout read_tpu_layout(std::span<const uint8_t> bytes, const std::string& source);
// Rewrite the header's file size and checksum after editing an encoded program in place (tests
// and tools that patch files). Throws Error when the bytes are shorter than a header.
void reseal_tpu(std::vector<uint8_t>& bytes);

// Serialise (explicit little-endian encode, never a struct memcpy). Does not validate, so tests can
// encode defective programs; save_program validates first. Throws Error only for what the format
// cannot represent (a field value wider than its instruction field, rank > 255).
std::vector<uint8_t> encode_program(const Program& p);
// Parse and validate; throws Error "<source>: <section or instruction>: <problem>" on any defect.
Program decode_program(std::span<const uint8_t> bytes, const std::string& source);
// Semantic validation of a program held in memory (also run by decode_program): every
// instruction's fields and footprints against the recorded architecture, streams ending in end,
// data and I/O inside DDR. Throws Error naming the section and instruction index.
void validate_program(const Program& p, const std::string& source);

// File I/O. save writes a temporary file then renames, so a failure leaves no half-written file.
Program load_program(const std::string& path);
void save_program(const Program& p, const std::string& path);

}  // namespace tpusim
