// Running a sweep (docs/dse.md): points in worker processes (`tpusim dse point`, one SystemC
// kernel each), resumable through the point files, sharded across jobs, merged, and written as
// results.csv / results.json.
#pragma once
#include <string>
#include <vector>

namespace tpusim::workflow::dse {

struct SweepOptions {
  std::string model, arch = "default", out;
  std::vector<std::string> sweeps;  // "key=v1,v2"
  std::string shard = "1/1";
  unsigned jobs = 0;  // 0: the CPUs this process may use
  bool progress = true;
};
// Runs every point of the shard not already done in out/points/, then writes out/results.*.
// Returns the summary for stdout; throws Error (after writing the results) when workers failed.
std::string run_sweep(const SweepOptions& o);

// The worker: the points of the sweep with these indices, each written to out/points/<id>.json
// atomically as soon as it is done.
struct PointOptions {
  std::string model, arch = "default", out;
  std::vector<std::string> sweeps;  // as SweepOptions::sweeps
  std::vector<size_t> points;       // indices into points(parse_axes(sweeps))
};
void run_point_command(const PointOptions& o);

// Point files of several directories (the same sweep, e.g. one per shard) into `out`, then the
// results. Throws Error naming the directory whose sweep or model differs from the first's.
std::string merge(const std::vector<std::string>& dirs, const std::string& out);

}  // namespace tpusim::workflow::dse
