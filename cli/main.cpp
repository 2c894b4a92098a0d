// tpusim: one binary, one subcommand per task (cli/command.h). Every failure ends as a single
// "error: <message>" line on stderr with exit code 1; command-line mistakes exit with code 2.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"

namespace {

// Logs go to stderr so that commands printing results on stdout (disasm, info) stay pipeable.
void configure_logging(bool verbose, bool quiet) {
  auto logger = spdlog::stderr_color_mt("tpusim");
  logger->set_pattern("%^%l%$: %v");
  logger->set_level(verbose ? spdlog::level::debug : quiet ? spdlog::level::warn : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// Levenshtein distance, for "did you mean" on a mistyped subcommand.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// The first word that is not an option must name a subcommand: CLI11 alone would report only that
// a subcommand is required. Returns the error line, or "" when the word is a subcommand.
std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    std::string best;
    size_t best_d = 3;  // suggest only near misses
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->get_name() == word) return "";
      const size_t d = edit_distance(word, sub->get_name());
      if (d < best_d) best = sub->get_name(), best_d = d;
    }
    return fmt::format("unknown command '{}'{} (tpusim --help lists them)", word,
                       best.empty() ? "" : fmt::format(": did you mean '{}'?", best));
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"tpusim: toolchain and simulator for a TPU-style INT8/INT4 accelerator", "tpusim"};
    app.set_version_flag("--version", "tpusim " TPUSIM_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // -v/-q also after the subcommand
    bool verbose = false, quiet = false;
    CLI::Option* v = app.add_flag("-v,--verbose", verbose, "Debug logging");
    app.add_flag("-q,--quiet", quiet, "Warnings and errors only")->excludes(v);

    const std::vector<tpusim::cli::Command> commands = {
        tpusim::cli::add_asm(app),     tpusim::cli::add_disasm(app), tpusim::cli::add_info(app),
        tpusim::cli::add_doc(app),     tpusim::cli::add_arch(app),   tpusim::cli::add_run(app),
        tpusim::cli::add_compile(app), tpusim::cli::add_eval(app),   tpusim::cli::add_compare(app),
        tpusim::cli::add_infer(app),   tpusim::cli::add_dse(app),    tpusim::cli::add_train(app),
        tpusim::cli::add_ptq(app),     tpusim::cli::add_qat(app),    tpusim::cli::add_demo(app),
        tpusim::cli::add_mixprec(app),
    };
    if (const std::string e = unknown_command(app, argc, argv); !e.empty()) {
      fmt::print(stderr, "error: {}\n", e);
      return 2;
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 2;  // --help and --version exit 0
    }
    configure_logging(verbose, quiet);
    for (const auto& c : commands)
      if (c.app->parsed()) c.run();
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (...) {
    fmt::print(stderr, "error: unknown failure\n");
    return 1;
  }
}
