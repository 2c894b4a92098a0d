// Lexical pieces of the tpusim assembly language shared by the assembler, the disassembler and the
// generated ISA reference: one tokenizer, one number syntax, one spelling for enum field values and
// names, so that what the disassembler prints is exactly what the assembler reads.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isa/isa.h"

namespace tpusim::asm_syntax {

// One whitespace-separated word of a line. Double-quoted parts are unquoted and unescaped;
// `eq` is the position in `text` of the first '=' written outside quotes (npos when none), so
// `name="a=b"` splits into key `name` and value `a=b`.
struct Token {
  std::string text;
  size_t eq = std::string::npos;
  bool quoted = false;

  bool is_key_value() const { return eq != std::string::npos; }
  std::string_view key() const { return std::string_view(text).substr(0, eq); }
  std::string_view value() const { return std::string_view(text).substr(eq + 1); }
};

// Splits a source line; ';' or '#' outside quotes start a comment. Throws Error (problem only, no
// location) on an unterminated string or a bad escape.
std::vector<Token> tokenize(std::string_view line);

// A name as the assembler reads it back: bare when that is unambiguous, else a quoted string with
// \" \\ \n \t and \xHH escapes.
std::string quote(std::string_view name);

// Integers: optional '-', then decimal digits or 0x/0X and hex digits. nullopt when malformed or
// outside int64.
std::optional<int64_t> parse_int(std::string_view s);
// Unsigned 64-bit (fingerprints, DDR addresses): decimal or 0x hex, no sign.
std::optional<uint64_t> parse_uint(std::string_view s);
// Floats as fmt's shortest round-trip output prints them (also inf/nan). nullopt when malformed.
std::optional<float> parse_float(std::string_view s);

// Enum kinds (D, P, E): value <-> name. enum_name is nullptr for other kinds or undefined values.
const char* enum_name(FieldKind k, int64_t v);
std::optional<int64_t> enum_value(FieldKind k, std::string_view name);
// "int8|uint8|int4|uint4|int32" for D, "max|avg" for P, ...; "" for U and S.
std::string enum_choices(FieldKind k);

// Fields holding an LMEM offset or DDR address; printed in hex.
bool is_address_field(std::string_view field_name);

// A field value as format_instr prints it: enum name, hex address or decimal.
std::string format_field(const FieldSpec& f, int64_t v);
// Parses a value written for field f of instruction s (enum name or number) and range-checks it.
// Throws Error (problem only) naming the field and, when out of range, the range.
int64_t parse_field(const OpSpec& s, const FieldSpec& f, std::string_view text);

}  // namespace tpusim::asm_syntax
