#include "workflow/worker_pool.h"

#include <fmt/format.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/error.h"
#include "base/file_io.h"

namespace tpusim::workflow {

unsigned usable_cpus() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

pid_t spawn_worker(const std::vector<std::string>& args) {
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  if (pid < 0) throw Error(fmt::format("cannot start a worker: {}", std::strerror(errno)));
  return pid;
}

std::string exit_text(int status) {
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("exit code {}", WEXITSTATUS(status));
}

int wait_worker(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error(fmt::format("waiting for worker {}: {}", pid, std::strerror(errno)));
  return status;
}

namespace {

// A fresh private directory for the workers' parts, removed when done.
struct PartDir {
  std::string path;
  PartDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = (tmp && *tmp ? std::string(tmp) : std::string("/tmp")) + "/tpusim-parts-XXXXXX";
    if (!::mkdtemp(templ.data())) throw Error(fmt::format("cannot create a directory like {}", templ));
    path = templ;
  }
  ~PartDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

void split_over_workers(int64_t total, unsigned jobs, const std::vector<std::string>& worker_args,
                        const std::function<void(int64_t begin, int64_t end)>& local,
                        const std::function<void(const nlohmann::json& part)>& merge,
                        const std::string& what) {
  const int64_t n = std::clamp<int64_t>(jobs, 1, std::max<int64_t>(total, 1));
  auto bound = [&](int64_t i) { return total * i / n; };
  if (n == 1) return local(0, total);
  const PartDir dir;
  std::vector<pid_t> pids;
  std::vector<std::string> parts;
  for (int64_t i = 1; i < n; ++i) {
    parts.push_back(fmt::format("{}/part{}.json", dir.path, i));
    std::vector<std::string> args = worker_args;
    args.insert(args.end(),
                {"--range", fmt::format("{}:{}", bound(i), bound(i + 1)), "--part-out", parts.back()});
    pids.push_back(spawn_worker(args));
  }
  local(0, bound(1));
  std::string failed;
  for (size_t i = 0; i < pids.size(); ++i) {
    const int status = wait_worker(pids[i]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failed += fmt::format("{}{}..{} ({})", failed.empty() ? "" : ", ", bound(int64_t(i) + 1),
                            bound(int64_t(i) + 2) - 1, exit_text(status));
  }
  if (!failed.empty()) throw Error(fmt::format("{}: workers failed on items {}", what, failed));
  for (const std::string& part : parts) merge(nlohmann::json::parse(read_file_text(part)));
}

std::pair<int64_t, int64_t> parse_range(const std::string& text) {
  const size_t colon = text.find(':');
  char* end = nullptr;
  const int64_t b = colon == std::string::npos ? -1 : std::strtoll(text.c_str(), &end, 10);
  const int64_t e =
      b < 0 || end != text.c_str() + colon ? -1 : std::strtoll(text.c_str() + colon + 1, &end, 10);
  if (b < 0 || e < b || *end != '\0')
    throw Error(fmt::format("--range {}: expected B:E with 0 <= B <= E", text));
  return {b, e};
}

}  // namespace tpusim::workflow
