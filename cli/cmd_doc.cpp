// tpusim doc isa: the instruction reference generated from the ISA table (the section of
// docs/isa.md between the generated-reference markers; --update rewrites that section in place).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "base/file_io.h"
#include "cli/command.h"
#include "isa/isa_doc.h"

namespace tpusim::cli {

Command add_doc(CLI::App& root) {
  struct Opts {
    std::string topic, update;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = root.add_subcommand("doc", "Print generated reference documentation");
  sub->add_option("topic", o->topic, "What to document: isa")->required()->check(CLI::IsMember({"isa"}));
  sub->add_option("--update", o->update,
                  "Replace the generated section of this Markdown file instead of printing");
  return {sub, [o] {
            const std::string ref = isa_reference_markdown();
            if (o->update.empty()) {
              write_stdout(ref);
              return;
            }
            const std::string doc = read_file_text(o->update);
            const std::string updated = replace_generated_section(doc, ref, o->update);
            if (updated == doc) return spdlog::info("{} is up to date", o->update);
            write_file_atomic(o->update, updated);
            spdlog::info("updated the generated ISA reference in {}", o->update);
          }};
}

}  // namespace tpusim::cli
