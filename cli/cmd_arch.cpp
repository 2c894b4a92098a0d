// tpusim arch list / arch show: the built-in architecture presets, and any architecture as YAML.
#include <fmt/format.h>

#include <memory>

#include "base/file_io.h"
#include "cli/command.h"
#include "isa/arch.h"

namespace tpusim::cli {

namespace {

// 65536 -> "64 KiB"; exact multiples only get the larger unit.
std::string size_text(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) bytes /= 1024, ++u;
  return fmt::format("{} {}", bytes, units[u]);
}

std::string arch_table() {
  std::string out =
      fmt::format("{:<10} {:>9} {:>5} {:>10} {:>11} {:>9} {:>7} {:>9} {:>8}\n", "name", "clock MHz", "lanes",
                  "MACs/cycle", "peak GMAC/s", "LMEM", "banks", "DDR", "DDR GB/s");
  for (const Arch& a : arch_presets()) {
    const uint64_t macs = uint64_t{a.lanes} * a.macs_per_lane;
    out += fmt::format("{:<10} {:>9} {:>5} {:>10} {:>11.1f} {:>9} {:>7} {:>9} {:>8.1f}\n", a.name,
                       a.clock_mhz, a.lanes, macs, double(macs) * a.clock_mhz / 1000.0,
                       size_text(a.lmem_bytes()), fmt::format("{}/lane", a.banks_per_lane),
                       size_text(a.ddr_bytes), double(a.ddr_bytes_per_cycle) * a.clock_mhz / 1000.0);
  }
  out +=
      "(int8 figures; int4 x int4 runs int4_speedup times faster. All parameters: tpusim arch show NAME)\n";
  return out;
}

}  // namespace

Command add_arch(CLI::App& root) {
  struct Opts {
    std::string which;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = root.add_subcommand("arch", "List the architecture presets or print one as YAML");
  sub->require_subcommand(1);
  CLI::App* list = sub->add_subcommand("list", "One line per built-in preset");
  CLI::App* show = sub->add_subcommand("show", "Print an architecture as YAML (loadable with --arch FILE)");
  show->add_option("arch", o->which, "Preset name or YAML file")->required();
  return {sub, [o, list] {
            if (list->parsed())
              write_stdout(arch_table());
            else
              write_stdout(arch_to_yaml(resolve_arch(o->which)));
          }};
}

}  // namespace tpusim::cli
