// The tpusim assembly language (docs/isa.md): text <-> Program. Both directions are derived from
// the ISA table, so a new opcode or field needs no change here.
#pragma once
#include <string>
#include <string_view>

#include "isa/program.h"

namespace tpusim {

// Parse assembly text. Throws Error "<source>:<line>: <problem>" at the first defect; the result
// has passed validate_program().
Program assemble(std::string_view text, const std::string& source);

// Print a program as assembly that assemble() turns back into the same Program (and therefore
// the same .tpu bytes).
std::string disassemble(const Program& p);

// One instruction as "mnemonic field=value ..." (every field, table order, enums by name).
std::string format_instr(const Instr& in);

// The inverse of format_instr for one line "mnemonic field=value ..." (fields in any order,
// omitted ones 0, comments allowed). Checks field names and value ranges only, not check()'s
// semantic rules. Throws Error "<source>:<line>: <problem>".
Instr parse_instr(std::string_view line, const std::string& source, int line_no = 1);

}  // namespace tpusim
