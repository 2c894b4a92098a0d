// tpusim asm / disasm: assembly text <-> .tpu container (docs/cli.md, docs/isa.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "base/file_io.h"
#include "cli/command.h"
#include "isa/asm.h"

namespace tpusim::cli {

Command add_asm(CLI::App& root) {
  struct Opts {
    std::string in, out;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = root.add_subcommand("asm", "Assemble a .s file into a .tpu program");
  sub->add_option("input", o->in, "Assembly source (.s)")->required();
  sub->add_option("-o,--output", o->out, "Program to write (.tpu)")->required();
  return {sub, [o] {
            spdlog::debug("assembling {}", o->in);
            const Program p = assemble(read_file_text(o->in), o->in);
            const std::vector<uint8_t> bytes = encode_program(p);
            write_file_atomic(o->out, bytes);
            spdlog::info("wrote {} ({} bytes: {} gdma + {} tiu instructions, {} data blocks)", o->out,
                         bytes.size(), p.gdma.size(), p.tiu.size(), p.data.size());
          }};
}

Command add_disasm(CLI::App& root) {
  struct Opts {
    std::string in, out;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub =
      root.add_subcommand("disasm", "Print a .tpu program as assembly that reassembles to the same bytes");
  sub->add_option("input", o->in, "Program (.tpu)")->required();
  sub->add_option("-o,--output", o->out, "Assembly file to write (default: stdout)");
  return {sub, [o] {
            const std::string text = disassemble(load_program(o->in));
            if (o->out.empty()) {
              write_stdout(text);
              return;
            }
            write_file_atomic(o->out, text);
            spdlog::info("wrote {}", o->out);
          }};
}

}  // namespace tpusim::cli
