#include "workflow/dse_run.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "base/file_io.h"
#include "base/progress.h"
#include "workflow/dse_point.h"
#include "workflow/dse_sweep.h"
#include "workflow/worker_pool.h"

namespace tpusim::workflow::dse {

namespace fs = std::filesystem;

namespace {

nlohmann::json axes_json(const std::vector<Axis>& axes) {
  nlohmann::json j = nlohmann::json::array();
  for (const Axis& a : axes) j.push_back({{"key", a.key}, {"values", a.values}});
  return j;
}

std::vector<Axis> axes_from(const nlohmann::json& j) {
  std::vector<Axis> axes;
  for (const nlohmann::json& a : j) axes.push_back({a.at("key"), a.at("values")});
  return axes;
}

// sweep.json: what a rerun and a merge compare.
nlohmann::json sweep_header(const std::string& model, const std::string& arch, const std::vector<Axis>& axes,
                            const SweepKey& key, const Shard& shard, size_t total) {
  return {{"format", 1},
          {"model", model},
          {"model_hash", key.model_hash},
          {"arch", arch},
          {"base_arch", key.base_arch},
          {"sweep", axes_json(axes)},
          {"shard", shard.text()},
          {"points_total", total}};
}

// results.csv / results.json of the shard's points found in dir; returns the summary line.
std::string write_results(const std::string& dir, nlohmann::json header, const std::vector<Axis>& axes,
                          const std::vector<Point>& pts, const SweepKey& key) {
  std::vector<nlohmann::json> found;
  std::map<std::string, int> by_status;
  nlohmann::json missing = nlohmann::json::array();
  for (const Point& p : pts) {
    nlohmann::json j = read_point(dir, p);
    if (!point_done(j, p, key)) {
      missing.push_back(p.id);
      continue;
    }
    ++by_status[j.at("status").get<std::string>()];
    found.push_back(std::move(j));
  }
  write_file_atomic(dir + "/results.csv", results_csv(axes, found));
  header["points"] = found;
  header["points_missing"] = missing;
  write_file_atomic(dir + "/results.json", header.dump(1) + "\n");
  std::string counts;
  for (const auto& [status, n] : by_status)
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, status);
  return fmt::format("dse: {} of {} points in {}/results.csv ({}){}\n", found.size(), pts.size(), dir,
                     counts.empty() ? "none" : counts,
                     missing.empty() ? "" : fmt::format("; {} missing", missing.size()));
}

}  // namespace

std::string run_sweep(const SweepOptions& o) {
  const std::vector<Axis> axes = parse_axes(o.sweeps);
  const Shard shard = parse_shard(o.shard);
  const Arch base = resolve_arch(o.arch);
  load_model(o.model);  // a bad model fails once here, not once per point
  const SweepKey key{file_hash(o.model), arch_to_yaml(base)};
  const std::vector<Point> all = points(axes);
  std::vector<Point> mine, pending;
  for (const Point& p : all)
    if (shard.has(p.index)) mine.push_back(p);
  fs::create_directories(o.out + "/points");
  const nlohmann::json header = sweep_header(o.model, o.arch, axes, key, shard, all.size());
  write_file_atomic(o.out + "/sweep.json", header.dump(1) + "\n");
  for (const Point& p : mine)
    if (!point_done(read_point(o.out, p), p, key)) pending.push_back(p);

  const size_t jobs = std::min<size_t>(o.jobs ? o.jobs : usable_cpus(), std::max<size_t>(pending.size(), 1));
  spdlog::info("dse: {} of {} points already done{}; running {} with {} job{}", mine.size() - pending.size(),
               mine.size(),
               shard.n > 1 ? fmt::format(" (shard {} of {} points)", shard.text(), all.size()) : "",
               pending.size(), jobs, jobs == 1 ? "" : "s");

  // Workers take a chunk of points each: a process start costs ~0.4 s where libtorch is linked,
  // more than simulating a small model. Chunks stay small so that progress and the work left to
  // a killed worker stay fine-grained; each point is still written on its own, atomically.
  const size_t chunk = std::clamp<size_t>((pending.size() + 4 * jobs - 1) / (4 * jobs), 1, 16);
  std::map<pid_t, std::vector<const Point*>> running;
  std::vector<std::string> failures;
  size_t next = 0, finished = 0;
  {
    Progress bar("dse", "points", o.progress,
                 ProgressOutput::to_stderr([](const std::string& line) { spdlog::info("{}", line); }));
    while (next < pending.size() || !running.empty()) {
      while (next < pending.size() && running.size() < jobs) {
        std::vector<const Point*> batch;
        std::string indices;
        for (; next < pending.size() && batch.size() < chunk; ++next) {
          batch.push_back(&pending[next]);
          indices += (indices.empty() ? "" : ",") + std::to_string(pending[next].index);
        }
        std::vector<std::string> args{"-q",   "dse",   "point", "--model",  o.model, "--arch",
                                      o.arch, "--out", o.out,   "--points", indices};
        for (const std::string& s : o.sweeps) args.insert(args.end(), {"--sweep", s});
        running[spawn_worker(args)] = std::move(batch);
      }
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, 0);
      if (pid < 0) {
        if (errno == EINTR) continue;
        throw Error(fmt::format("waiting for workers: {}", std::strerror(errno)));
      }
      const auto it = running.find(pid);
      if (it == running.end()) continue;
      const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      for (const Point* p : it->second)
        if (!clean || !point_done(read_point(o.out, *p), *p, key))
          failures.push_back(fmt::format("{} ({})", p->id, exit_text(status)));
      finished += it->second.size();
      running.erase(it);
      bar(static_cast<int64_t>(finished), static_cast<int64_t>(pending.size()));
    }
  }
  std::string summary = write_results(o.out, header, axes, mine, key);
  if (!failures.empty()) {
    std::string list;
    for (const std::string& f : failures) list += (list.empty() ? "" : ", ") + f;
    throw Error(fmt::format("{}{} point(s) failed in their worker: {}; rerun to retry them", summary,
                            failures.size(), list));
  }
  return summary;
}

void run_point_command(const PointOptions& o) {
  const std::vector<Point> all = points(parse_axes(o.sweeps));
  const Arch base = resolve_arch(o.arch);
  const SweepKey key{file_hash(o.model), arch_to_yaml(base)};
  const auto model = load_model(o.model);
  fs::create_directories(o.out + "/points");
  for (const size_t index : o.points) {
    if (index >= all.size())
      throw Error(fmt::format("dse point: index {} outside the sweep's {} points", index, all.size()));
    const Point& p = all[index];
    write_file_atomic(point_path(o.out, p), run_point(model, base, p, key).dump(1) + "\n");
  }
}

std::string merge(const std::vector<std::string>& dirs, const std::string& out) {
  if (dirs.empty()) throw Error("dse merge: give the directories to merge");
  nlohmann::json first;
  for (const std::string& d : dirs) {
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(read_file_text(d + "/sweep.json"));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}/sweep.json: {}", d, e.what()));
    }
    if (first.is_null()) first = h;
    for (const char* k : {"model_hash", "base_arch", "sweep"})
      if (h.value(k, nlohmann::json()) != first.value(k, nlohmann::json()))
        throw Error(fmt::format("{}: another sweep than {} ({} differs); merge only shards of one sweep", d,
                                dirs.front(), k));
  }
  const std::vector<Axis> axes = axes_from(first.at("sweep"));
  const SweepKey key{first.at("model_hash"), first.at("base_arch")};
  const std::vector<Point> all = points(axes);
  fs::create_directories(out + "/points");
  for (const Point& p : all)
    for (const std::string& d : dirs) {
      const nlohmann::json j = read_point(d, p);
      if (!point_done(j, p, key)) continue;
      std::error_code ec;  // out may be one of the dirs: nothing to copy then
      if (!fs::equivalent(point_path(out, p), point_path(d, p), ec))
        write_file_atomic(point_path(out, p), j.dump(1) + "\n");
      break;
    }
  nlohmann::json header = first;
  header["shard"] = Shard{}.text();
  write_file_atomic(out + "/sweep.json", header.dump(1) + "\n");
  return write_results(out, header, axes, all, key);
}

}  // namespace tpusim::workflow::dse
