#include "workflow/python_script.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

namespace tpusim::workflow {

namespace fs = std::filesystem;

namespace {

// A single-quoted shell word.
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

std::string script_path(const std::string& name) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path beside = exe.parent_path().parent_path() / "scripts" / name;
  if (!ec && fs::exists(beside)) return beside.string();
  return (fs::path(TPUSIM_SOURCE_DIR) / "scripts" / name).string();
}

bool run_python_script(const std::string& name, const std::vector<std::string>& args,
                       const std::string& what) {
  std::string cmd = quoted(TPUSIM_PYTHON) + " " + quoted(script_path(name));
  for (const std::string& a : args) cmd += " " + quoted(a);
  cmd += " >/dev/null";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    spdlog::warn("{}: plots not made ({} exited with {}); the report has every figure", what,
                 script_path(name), WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
    return false;
  }
  return true;
}

}  // namespace tpusim::workflow
