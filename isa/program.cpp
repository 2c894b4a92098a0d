// The .tpu container: explicit little-endian encode/decode (layout in docs/tpu-format.md). The
// decoder trusts nothing: every count, length and offset is checked against the bytes actually
// present before it is used, and every defect becomes one Error line naming where it is.
#include "isa/program.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <limits>

#include "base/bytes.h"
#include "base/error.h"
#include "base/file_io.h"
#include "isa/program_sections.h"

namespace tpusim {

using namespace tpu;

namespace {

constexpr std::array<uint8_t, 8> kMagic{'T', 'P', 'U', 'S', 'I', 'M', 0x00, 0x1a};
// Header field offsets.
constexpr size_t kOffVersionMajor = 8, kOffVersionMinor = 10, kOffFlags = 12, kOffFileSize = 16,
                 kOffChecksum = 24, kOffSectionCount = 28;
constexpr size_t kSectionAlign = 8;

struct KindName {
  TpuSection kind;
  const char* name;
};
// Also the order sections are written and parsed in.
constexpr std::array<KindName, 7> kSections{{{TpuSection::Arch, "arch"},
                                             {TpuSection::CodeGdma, "code.gdma"},
                                             {TpuSection::CodeTiu, "code.tiu"},
                                             {TpuSection::Data, "data"},
                                             {TpuSection::Inputs, "inputs"},
                                             {TpuSection::Outputs, "outputs"},
                                             {TpuSection::Debug, "debug"}}};

uint32_t checksum(std::span<const uint8_t> b) {
  return static_cast<uint32_t>(crc32_z(crc32_z(0, nullptr, 0), b.data(), b.size()));
}

struct SectionEntry {
  size_t index;  // in the section table
  uint32_t kind;
  uint64_t offset, size;
};

std::string entry_label(const SectionEntry& e) {
  const char* name = tpu_section_name(e.kind);
  return name ? fmt::format("entry {} ({})", e.index, name)
              : fmt::format("entry {} (kind 0x{:08x})", e.index, e.kind);
}

// Magic, version, flags, recorded size and checksum. Version comes before size and checksum: a
// future major version may lay out the rest differently.
void check_header(std::span<const uint8_t> file, const std::string& source) {
  auto fail = [&](const std::string& what) { throw Error(fmt::format("{}: header: {}", source, what)); };
  if (file.empty()) fail("empty file (not a .tpu program)");
  const size_t probe = std::min(file.size(), kMagic.size());
  if (!std::equal(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(probe), kMagic.begin()))
    fail(fmt::format("bad magic {:02x} (not a .tpu program)", fmt::join(file.first(probe), " ")));
  if (file.size() < kTpuHeaderBytes)
    fail(fmt::format("truncated: {} of {} bytes", file.size(), kTpuHeaderBytes));
  const auto major = static_cast<uint16_t>(get_le_at(file, kOffVersionMajor, 2));
  const auto minor = static_cast<uint16_t>(get_le_at(file, kOffVersionMinor, 2));
  if (major > kTpuVersionMajor)
    fail(fmt::format("format version {}.{} is newer than this tpusim reads ({}.x): upgrade tpusim", major,
                     minor, kTpuVersionMajor));
  if (major < kTpuVersionMajor)
    fail(fmt::format("format version {}.{} is not supported (this tpusim reads {}.x)", major, minor,
                     kTpuVersionMajor));
  const auto flags = static_cast<uint32_t>(get_le_at(file, kOffFlags, 4));
  if (flags != 0) fail(fmt::format("unknown flags 0x{:08x}", flags));
  const uint64_t recorded = get_le_at(file, kOffFileSize, 8);
  if (recorded > file.size())
    fail(fmt::format("truncated: file has {} bytes, header records {}", file.size(), recorded));
  if (recorded < file.size())
    fail(fmt::format("{} unexpected bytes after the recorded end of file ({} bytes)", file.size() - recorded,
                     recorded));
  const auto stored = static_cast<uint32_t>(get_le_at(file, kOffChecksum, 4));
  const uint32_t computed = checksum(file.subspan(kTpuHeaderBytes));
  if (stored != computed)
    fail(fmt::format("checksum mismatch (stored 0x{:08x}, computed 0x{:08x}): the file is corrupted", stored,
                     computed));
}

// The section table: kinds known or optional, each at most once, inside the file, no overlaps.
std::vector<SectionEntry> read_section_table(std::span<const uint8_t> file, const std::string& source) {
  auto fail = [&](const std::string& what) {
    throw Error(fmt::format("{}: section table: {}", source, what));
  };
  const uint64_t count = get_le_at(file, kOffSectionCount, 4);
  if (count > (file.size() - kTpuHeaderBytes) / kTpuSectionEntryBytes)
    fail(fmt::format("{} entries do not fit in the file ({} bytes)", count, file.size()));
  const uint64_t body = kTpuHeaderBytes + count * kTpuSectionEntryBytes;
  std::vector<SectionEntry> table;
  for (size_t i = 0; i < count; ++i) {
    const size_t at = kTpuHeaderBytes + i * kTpuSectionEntryBytes;
    SectionEntry e{i, static_cast<uint32_t>(get_le_at(file, at, 4)), get_le_at(file, at + 4, 8),
                   get_le_at(file, at + 12, 8)};
    if (!tpu_section_name(e.kind) && !(e.kind & kTpuOptionalSectionBit))
      fail(fmt::format("entry {}: unknown section kind 0x{:08x} (written by a newer tpusim?)", i, e.kind));
    const std::string what = entry_label(e);
    if (e.offset < body)
      fail(fmt::format("{}: offset {} lies inside the header or section table", what, e.offset));
    if (e.offset > file.size() || e.size > file.size() - e.offset)
      fail(fmt::format("{}: offset {} + size {} runs past the end of the file ({} bytes)", what, e.offset,
                       e.size, file.size()));
    for (const SectionEntry& prev : table)
      if (prev.kind == e.kind)
        fail(fmt::format("{}: duplicate section (first is entry {})", what, prev.index));
    table.push_back(e);
  }
  // Sorted by offset (ties by entry) so adjacent pairs reveal every overlap, deterministically.
  std::vector<SectionEntry> by_offset = table;
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
    return std::pair(a.offset, a.index) < std::pair(b.offset, b.index);
  });
  const SectionEntry* prev = nullptr;
  for (const SectionEntry& e : by_offset) {
    if (e.size == 0) continue;  // an empty section occupies no bytes
    if (prev && e.offset < prev->offset + prev->size)
      fail(fmt::format("{} [{}, {}) overlaps {} [{}, {})", entry_label(e), e.offset, e.offset + e.size,
                       entry_label(*prev), prev->offset, prev->offset + prev->size));
    prev = &e;
  }
  for (TpuSection required : {TpuSection::Arch, TpuSection::CodeGdma, TpuSection::CodeTiu})
    if (std::none_of(table.begin(), table.end(), [&](const auto& e) { return e.kind == uint32_t(required); }))
      fail(fmt::format("required section {} is missing", tpu_section_name(static_cast<uint32_t>(required))));
  return table;
}

}  // namespace

const char* tpu_section_name(uint32_t kind) {
  for (const KindName& k : kSections)
    if (static_cast<uint32_t>(k.kind) == kind) return k.name;
  return nullptr;
}

void reseal_tpu(std::vector<uint8_t>& bytes) {
  if (bytes.size() < kTpuHeaderBytes) throw Error("reseal_tpu: shorter than a .tpu header");
  put_le_at(bytes, kOffFileSize, bytes.size(), 8);
  put_le_at(bytes, kOffChecksum, checksum(std::span(bytes).subspan(kTpuHeaderBytes)), 4);
}

TpuLayout read_tpu_layout(std::span<const uint8_t> bytes, const std::string& source) {
  check_header(bytes, source);
  TpuLayout layout;
  layout.version_major = static_cast<uint16_t>(get_le_at(bytes, kOffVersionMajor, 2));
  layout.version_minor = static_cast<uint16_t>(get_le_at(bytes, kOffVersionMinor, 2));
  for (const SectionEntry& e : read_section_table(bytes, source))
    layout.sections.push_back({e.kind, e.offset, e.size});
  return layout;
}

std::vector<uint8_t> encode_program(const Program& p) {
  const std::array<std::vector<uint8_t>, kSections.size()> payloads{
      encode_arch(p.arch),  encode_code(p.gdma, "code.gdma"),   encode_code(p.tiu, "code.tiu"),
      encode_data(p.data),  encode_tensors(p.inputs, "inputs"), encode_tensors(p.outputs, "outputs"),
      encode_debug(p.debug)};
  ByteWriter w;
  w.bytes(kMagic);
  w.u16(kTpuVersionMajor);
  w.u16(kTpuVersionMinor);
  w.u32(0);  // flags
  w.u64(0);  // file size, sealed below
  w.u32(0);  // checksum, sealed below
  w.u32(static_cast<uint32_t>(kSections.size()));
  auto align = [](uint64_t v) { return (v + kSectionAlign - 1) / kSectionAlign * kSectionAlign; };
  uint64_t offset = align(kTpuHeaderBytes + kSections.size() * kTpuSectionEntryBytes);
  for (size_t i = 0; i < kSections.size(); ++i) {
    w.u32(static_cast<uint32_t>(kSections[i].kind));
    w.u64(offset);
    w.u64(payloads[i].size());
    offset = align(offset + payloads[i].size());
  }
  for (const auto& payload : payloads) {
    w.pad_to(kSectionAlign);
    w.bytes(payload);
  }
  reseal_tpu(w.buffer());
  return std::move(w.buffer());
}

Program decode_program(std::span<const uint8_t> bytes, const std::string& source) {
  check_header(bytes, source);
  const std::vector<SectionEntry> table = read_section_table(bytes, source);
  Program p;
  for (const KindName& k : kSections) {
    auto e =
        std::find_if(table.begin(), table.end(), [&](const auto& s) { return s.kind == uint32_t(k.kind); });
    if (e == table.end()) continue;  // optional sections default to empty
    ByteReader r(bytes, e->offset, e->offset + e->size, fmt::format("{}: {}", source, k.name));
    switch (k.kind) {
      case TpuSection::Arch: p.arch = decode_arch(r); break;
      case TpuSection::CodeGdma: p.gdma = decode_code(r); break;
      case TpuSection::CodeTiu: p.tiu = decode_code(r); break;
      case TpuSection::Data: p.data = decode_data(r); break;
      case TpuSection::Inputs: p.inputs = decode_tensors(r); break;
      case TpuSection::Outputs: p.outputs = decode_tensors(r); break;
      case TpuSection::Debug: p.debug = decode_debug(r); break;
    }
    r.expect_end();
  }
  validate_program(p, source);
  return p;
}

Program load_program(const std::string& path) { return decode_program(read_file_bytes(path), path); }

void save_program(const Program& p, const std::string& path) {
  validate_program(p, path);  // never write a file that load_program would refuse
  write_file_atomic(path, encode_program(p));
}

}  // namespace tpusim
