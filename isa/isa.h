// Types derived from the ISA table (isa/isa_table.h): opcodes, per-opcode field structs, the
// runtime spec table, a generic decoded instruction, and the bit-level encoder/decoder.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "isa/isa_table.h"

namespace tpusim {

enum class Engine : uint8_t { Gdma = 0, Tiu = 1, Sys = 2 };
const char* engine_name(Engine e);

enum class FieldKind : uint8_t { U, S, D, P, E };
enum class PoolMode : uint8_t { Max = 0, Avg = 1 };
enum class EltOp : uint8_t { Add = 0, Mul = 1, Max = 2 };

enum class Opcode : uint8_t {
#define TPUSIM_X_ENUM(id, Name, mn, eng, FIELDS, sem) Name = id,
  TPUSIM_ISA(TPUSIM_X_ENUM)
#undef TPUSIM_X_ENUM
};

struct FieldSpec {
  const char* name;
  uint8_t bits;
  FieldKind kind;
  const char* doc;
};

inline constexpr int kOpcodeBits = 8;
inline constexpr int kWordBits = 64;
inline constexpr int kMaxWords = 8;
inline constexpr int kMaxFields = 48;

struct OpSpec {
  Opcode op;
  const char* mnemonic;
  Engine engine;
  const FieldSpec* fields;
  int nfields;
  const char* semantics;

  constexpr int bits() const {
    int b = kOpcodeBits;
    for (int i = 0; i < nfields; ++i) b += fields[i].bits;
    return b;
  }
  constexpr int words() const { return (bits() + kWordBits - 1) / kWordBits; }
  constexpr int bytes() const { return words() * kWordBits / 8; }
  // Index of a field by name, -1 if absent (constexpr: usable in static_asserts).
  constexpr int field_index(std::string_view n) const {
    for (int i = 0; i < nfields; ++i)
      if (std::string_view(fields[i].name) == n) return i;
    return -1;
  }
};

namespace detail {
#define TPUSIM_X_FIELD(fname, fbits, fkind, fdoc) FieldSpec{#fname, fbits, FieldKind::fkind, fdoc},
#define TPUSIM_X_FIELDS(id, Name, mn, eng, FIELDS, sem) \
  inline constexpr FieldSpec k##Name##Fields[] = {FIELDS(TPUSIM_X_FIELD) FieldSpec{"", 0, FieldKind::U, ""}};
TPUSIM_ISA(TPUSIM_X_FIELDS)
#undef TPUSIM_X_FIELDS
#undef TPUSIM_X_FIELD
}  // namespace detail

inline constexpr OpSpec kOpSpecs[] = {
#define TPUSIM_X_SPEC(id, Name, mn, eng, FIELDS, sem)              \
  OpSpec{Opcode::Name,                                             \
         mn,                                                       \
         Engine::eng,                                              \
         detail::k##Name##Fields,                                  \
         static_cast<int>(std::size(detail::k##Name##Fields)) - 1, \
         sem},
    TPUSIM_ISA(TPUSIM_X_SPEC)
#undef TPUSIM_X_SPEC
};
inline constexpr int kNumOps = static_cast<int>(std::size(kOpSpecs));

// Spec of an opcode id, nullptr when the id is not in the table.
const OpSpec* find_spec(uint8_t opcode);
const OpSpec& spec(Opcode op);
const OpSpec* find_spec(std::string_view mnemonic);

// A decoded instruction: the opcode and its field values in table order (signed fields
// sign-extended). Typed views below give the fields names.
struct Instr {
  Opcode op{Opcode::End};
  std::array<int64_t, kMaxFields> f{};

  bool operator==(const Instr& o) const;
};

// Per-opcode structs with one int64_t member per field, e.g. ops::Conv2d{}.kh, and conversions.
namespace ops {
#define TPUSIM_X_MEMBER(fname, fbits, fkind, fdoc) int64_t fname = 0;
#define TPUSIM_X_GET(fname, fbits, fkind, fdoc) t.fname = in.f[i++];
#define TPUSIM_X_PUT(fname, fbits, fkind, fdoc) in.f[i++] = t.fname;
#define TPUSIM_X_STRUCT(id, Name, mn, eng, FIELDS, sem)  \
  struct Name {                                          \
    static constexpr Opcode opcode = Opcode::Name;       \
    FIELDS(TPUSIM_X_MEMBER)                              \
    static Name from([[maybe_unused]] const Instr& in) { \
      Name t;                                            \
      [[maybe_unused]] int i = 0;                        \
      FIELDS(TPUSIM_X_GET)                               \
      return t;                                          \
    }                                                    \
    Instr instr() const {                                \
      Instr in;                                          \
      in.op = opcode;                                    \
      [[maybe_unused]] int i = 0;                        \
      [[maybe_unused]] const Name& t = *this;            \
      FIELDS(TPUSIM_X_PUT)                               \
      return in;                                         \
    }                                                    \
  };
TPUSIM_ISA(TPUSIM_X_STRUCT)
#undef TPUSIM_X_STRUCT
#undef TPUSIM_X_PUT
#undef TPUSIM_X_GET
#undef TPUSIM_X_MEMBER
}  // namespace ops

// Compile-time checks that the table and the encoding agree.
namespace detail {
constexpr bool isa_table_ok() {
  for (int i = 0; i < kNumOps; ++i) {
    const OpSpec& s = kOpSpecs[i];
    if (static_cast<int>(s.op) >= (1 << kOpcodeBits) || static_cast<int>(s.op) == 0) return false;
    if (s.nfields > kMaxFields || s.words() > kMaxWords) return false;
    for (int j = i + 1; j < kNumOps; ++j)
      if (kOpSpecs[j].op == s.op || std::string_view(kOpSpecs[j].mnemonic) == s.mnemonic) return false;
    for (int a = 0; a < s.nfields; ++a) {
      const FieldSpec& f = s.fields[a];
      if (f.bits < 1 || f.bits > 63) return false;
      if (f.kind == FieldKind::D && f.bits < 3) return false;  // must hold every DType id
      if (f.kind == FieldKind::P && f.bits < 1) return false;
      if (f.kind == FieldKind::E && f.bits < 2) return false;
      for (int b = a + 1; b < s.nfields; ++b)
        if (std::string_view(s.fields[b].name) == f.name) return false;
    }
  }
  return true;
}
}  // namespace detail
static_assert(detail::isa_table_ok(),
              "ISA table: opcode ids/mnemonics unique and nonzero, field names unique, widths fit kinds, "
              "instructions within kMaxWords");
static_assert(kOpSpecs[0].op == Opcode::End && kOpSpecs[0].words() == 1, "end is one word");

// Range of a field's values given its width and kind.
int64_t field_min(const FieldSpec& f);
int64_t field_max(const FieldSpec& f);
// Checks the value is representable and, for enum kinds, a defined enumerator.
bool field_value_ok(const FieldSpec& f, int64_t v);

// Encode: appends spec.bytes() bytes. Throws Error naming the field when a value does not fit.
void encode(const Instr& in, std::vector<uint8_t>& out);
std::vector<uint8_t> encode(const Instr& in);

// Decode one instruction at the start of `bytes`. On failure returns nullopt and sets *err to a
// short reason ("unknown opcode 0x7f", "truncated: needs 56 bytes, 12 left", "field dtype: value 7
// is not an element type", "reserved bits set").
std::optional<Instr> decode(std::span<const uint8_t> bytes, size_t* consumed, std::string* err);

// Decode a whole stream; throws Error "<where>: instruction <i>: <reason>".
std::vector<Instr> decode_stream(std::span<const uint8_t> bytes, const std::string& where);
std::vector<uint8_t> encode_stream(const std::vector<Instr>& code);

}  // namespace tpusim
