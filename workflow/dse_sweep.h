// Design-space exploration (docs/dse.md): the sweep (axes, points, ids, shards), the
// architecture of a point, and the results files. No processes and no simulation here
// (workflow/dse_point.h runs one point, cli/cmd_dse.cpp runs many), so tests link it directly.
#pragma once
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "isa/arch.h"

namespace tpusim::workflow::dse {

// Derived key: total LMEM in KiB, split evenly over the lanes (lane_bytes = lmem_kib*1024/lanes).
inline constexpr const char* kLmemKib = "lmem_kib";

// One --sweep: an Arch parameter's YAML key (or lmem_kib) and its values, in canonical text
// ("08" -> "8", "1.50" -> "1.5") so that ids do not depend on spelling.
struct Axis {
  std::string key;
  std::vector<std::string> values;
};
// "key=v1,v2,...". Throws Error "--sweep '<arg>': ..." naming the bad key or value.
Axis parse_axis(const std::string& arg);
// Every axis parsed; throws Error on a repeated key or on lmem_kib together with lane_bytes.
std::vector<Axis> parse_axes(const std::vector<std::string>& args);

// One point of the cartesian product (the first axis varies slowest).
struct Point {
  size_t index = 0;
  std::string id;  // "lanes-8__lmem_kib-64": file-name safe, stable; "base" with no axes
  std::map<std::string, std::string> params;
};
std::vector<Point> points(const std::vector<Axis>& axes);
std::string point_id(const std::vector<Axis>& axes, const std::map<std::string, std::string>& params);

// --shard K/N, 1-based: shard K runs the points whose index i has i % N == K - 1.
struct Shard {
  size_t k = 1, n = 1;
  bool has(size_t index) const { return index % n == k - 1; }
  std::string text() const;
};
Shard parse_shard(const std::string& text);  // throws Error "--shard '<text>': ..."

// `base` with the point's values, validated like an architecture file (errors name the key);
// lmem_kib that does not split evenly over the lanes throws too. Named "dse".
Arch point_arch(const Arch& base, const std::map<std::string, std::string>& params);

// FNV-1a 64 of a file's bytes, as 16 hex digits: a point records its model's.
std::string file_hash(const std::string& path);

// What a point file must record to be reused by a rerun or a merge.
struct SweepKey {
  std::string model_hash;
  std::string base_arch;  // arch_to_yaml(base)
};
// True when `j` (a points/<id>.json) is a finished point of this sweep: readable, the same id,
// model hash and base architecture.
bool point_done(const nlohmann::json& j, const Point& p, const SweepKey& key);
// Reads points/<id>.json; null when missing or unreadable (a rerun recomputes it).
nlohmann::json read_point(const std::string& dir, const Point& p);
std::string point_path(const std::string& dir, const Point& p);

// Metric columns of results.csv, in order (after index, id, status and the axes).
const std::vector<std::string>& metric_columns();
// results.csv text: one row per point file given, in the order given.
std::string results_csv(const std::vector<Axis>& axes, const std::vector<nlohmann::json>& pts);

}  // namespace tpusim::workflow::dse
