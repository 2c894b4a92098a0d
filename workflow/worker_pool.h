// Worker processes of this binary (`tpusim dse`'s points, `tpusim eval --jobs`'s image ranges):
// SystemC runs one simulation kernel per process, so a command that simulates on every core
// starts copies of itself, each writing its results to a file the parent then reads.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace tpusim::workflow {

// The CPUs this process may use (sched_getaffinity: a Slurm allocation or taskset), not all of
// the machine's; at least 1.
unsigned usable_cpus();

// fork + exec of this binary (/proc/self/exe) with `args`; the worker dies with the parent
// (PR_SET_PDEATHSIG), so killing the command stops it. Throws Error when fork fails.
pid_t spawn_worker(const std::vector<std::string>& args);

// "exit code N" / "killed by signal N" for a waitpid status.
std::string exit_text(int status);

// Waits for `pid`, retrying on EINTR; returns its waitpid status. Throws Error on other failures.
int wait_worker(pid_t pid);

// A batch of `total` items split into min(jobs, total) contiguous ranges: the first run here by
// `local(begin, end)`, each other by a worker started with `worker_args` + "--range B:E --part-out
// FILE" (a private temporary file), whose JSON is then given to `merge` in range order. Throws
// Error "<what>: workers failed: ..." naming the ranges whose worker failed (nothing is merged then).
void split_over_workers(int64_t total, unsigned jobs, const std::vector<std::string>& worker_args,
                        const std::function<void(int64_t begin, int64_t end)>& local,
                        const std::function<void(const nlohmann::json& part)>& merge,
                        const std::string& what);

// "B:E" of a worker's --range. Throws Error unless 0 <= B <= E.
std::pair<int64_t, int64_t> parse_range(const std::string& text);

}  // namespace tpusim::workflow
