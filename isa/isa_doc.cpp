#include "isa/isa_doc.h"

#include <fmt/format.h>

#include "base/error.h"
#include "isa/asm_syntax.h"
#include "isa/isa.h"

namespace tpusim {

namespace {

const char* kind_word(FieldKind k) {
  switch (k) {
    case FieldKind::U: return "U (unsigned)";
    case FieldKind::S: return "S (signed)";
    case FieldKind::D: return "D (element type)";
    case FieldKind::P: return "P (pool mode)";
    case FieldKind::E: return "E (eltwise op)";
  }
  return "?";
}

std::string range_text(const FieldSpec& f) {
  std::string choices = asm_syntax::enum_choices(f.kind);
  if (!choices.empty()) {
    std::string out;
    for (int64_t v = field_min(f); v <= field_max(f); ++v)
      out += fmt::format("{}{} = {}", v ? ", " : "", v, asm_syntax::enum_name(f.kind, v));
    return out;
  }
  if (asm_syntax::is_address_field(f.name)) return fmt::format("0x0 .. 0x{:x}", field_max(f));
  return fmt::format("{} .. {}", field_min(f), field_max(f));
}

// Table cells must not contain a bare '|'.
std::string cell(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

// GitHub's heading anchor: "### `dma.load`" is #dmaload.
std::string anchor(std::string_view heading) {
  std::string out;
  for (char c : heading)
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') out += c;
  return out;
}

std::string opcode_section(const OpSpec& s) {
  const std::string stream =
      s.engine == Engine::Sys ? "either stream (sys)" : fmt::format("{} stream", engine_name(s.engine));
  std::string out =
      fmt::format("### `{}`\n\nOpcode 0x{:02x}, {}, {} bytes ({} of {} bits used).\n\n", s.mnemonic,
                  static_cast<int>(s.op), stream, s.bytes(), s.bits(), s.bytes() * 8);
  out += fmt::format("Semantics: {}.\n\n", s.semantics);
  if (s.nfields == 0) return out + "No fields.\n\n";
  out += "| field | bits | kind | range | meaning |\n|---|---|---|---|---|\n";
  int pos = kOpcodeBits;
  for (int i = 0; i < s.nfields; ++i) {
    const FieldSpec& f = s.fields[i];
    out += fmt::format("| `{}` | {}..{} ({}) | {} | {} | {} |\n", f.name, pos, pos + f.bits - 1, f.bits,
                       kind_word(f.kind), cell(range_text(f)), cell(f.doc));
    pos += f.bits;
  }
  return out + "\n";
}

}  // namespace

std::string isa_reference_markdown() {
  std::string out = "<!-- generated from isa/isa_table.h by `tpusim doc isa`: do not edit by hand -->\n\n";
  out += "| opcode | mnemonic | stream | bytes | semantics |\n|---|---|---|---|---|\n";
  for (const OpSpec& s : kOpSpecs)
    out += fmt::format("| 0x{:02x} | [`{}`](#{}) | {} | {} | {} |\n", static_cast<int>(s.op), s.mnemonic,
                       anchor(s.mnemonic), engine_name(s.engine), s.bytes(), cell(s.semantics));
  out += "\n";
  for (const OpSpec& s : kOpSpecs) out += opcode_section(s);
  while (out.size() > 1 && out[out.size() - 2] == '\n') out.pop_back();  // exactly one final newline
  return out;
}

std::string generated_section(std::string_view doc, const std::string& source) {
  const size_t begin = doc.find(kIsaRefBegin);
  const size_t end = doc.find(kIsaRefEnd);
  if (begin == std::string_view::npos) throw Error(fmt::format("{}: no line {}", source, kIsaRefBegin));
  if (end == std::string_view::npos) throw Error(fmt::format("{}: no line {}", source, kIsaRefEnd));
  const size_t first = doc.find('\n', begin);
  if (end < begin || first == std::string_view::npos || first >= end)
    throw Error(fmt::format("{}: {} must come on a line after {}", source, kIsaRefEnd, kIsaRefBegin));
  return std::string(doc.substr(first + 1, end - first - 1));
}

std::string replace_generated_section(std::string_view doc, std::string_view generated,
                                      const std::string& source) {
  const std::string old = generated_section(doc, source);
  const size_t first = doc.find('\n', doc.find(kIsaRefBegin)) + 1;
  return std::string(doc.substr(0, first)) + std::string(generated) +
         std::string(doc.substr(first + old.size()));
}

}  // namespace tpusim
