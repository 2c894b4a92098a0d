// The instruction reference of docs/isa.md, generated from the ISA table (`tpusim doc isa`), and
// the helpers that keep the copy in the document equal to the generator's output.
#pragma once
#include <string>
#include <string_view>

namespace tpusim {

inline constexpr std::string_view kIsaRefBegin = "<!-- BEGIN GENERATED ISA REFERENCE -->";
inline constexpr std::string_view kIsaRefEnd = "<!-- END GENERATED ISA REFERENCE -->";

// Markdown: an opcode summary table, then per opcode its id, engine, encoded size, semantics and a
// field table (name, bit positions, kind, range, meaning).
std::string isa_reference_markdown();

// The lines strictly between the two marker lines of `doc`. Throws Error "<source>: ..." when a
// marker is missing or they are out of order.
std::string generated_section(std::string_view doc, const std::string& source);
// `doc` with that section replaced by `generated`.
std::string replace_generated_section(std::string_view doc, std::string_view generated,
                                      const std::string& source);

}  // namespace tpusim
