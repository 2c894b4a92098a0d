// tpusim: one binary, one subcommand per task (cli/command.h). Every failure ends as a single
// "error: <message>" line on stderr with exit code 1; command-line mistakes exit with code 2.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <exception>

#include "cli/command.h"

namespace {

// Logs go to stderr so that commands printing results on stdout (disasm, info) stay pipeable.
void configure_logging(bool verbose, bool quiet) {
  auto logger = spdlog::stderr_color_mt("tpusim");
  logger->set_pattern("%^%l%$: %v");
  logger->set_level(verbose ? spdlog::level::debug : quiet ? spdlog::level::warn : spdlog::level::info);
  spdlog::set_default_logger(logger);
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
        tpusim::cli::add_dse(app),
#ifdef TPUSIM_WITH_TORCH
        tpusim::cli::add_train(app),   tpusim::cli::add_ptq(app),    tpusim::cli::add_qat(app),
        tpusim::cli::add_demo(app),
#endif
    };
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
