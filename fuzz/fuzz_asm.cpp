// Assembly text: assemble; an accepted program disassembles to text that assembles to the same
// .tpu bytes (the round trip isa/asm.h promises). One instruction line through parse_instr too.
#include "fuzz/fuzz_common.h"
#include "isa/asm.h"

using namespace tpusim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Instr in = parse_instr(text.substr(0, text.find('\n')), "fuzz.s");
    const std::string line = format_instr(in);
    fuzz::fuzz_check(format_instr(parse_instr(line, "formatted")) == line,
                     "format_instr round trip: " + line);
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  Program p;
  try {
    p = assemble(text, "fuzz.s");
  } catch (const Error& e) {
    fuzz::check_error(e);
    return 0;
  }
  const std::string again = disassemble(p);
  const Program q = assemble(again, "disassembled");
  fuzz::fuzz_check(encode_program(q) == encode_program(p),
                   "assemble(disassemble(p)) differs from p:\n" + again);
  return 0;
}
