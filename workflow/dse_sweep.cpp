#include "workflow/dse_sweep.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "base/error.h"
#include "base/file_io.h"

namespace tpusim::workflow::dse {

namespace {

const ArchParam* find_param(const std::string& key) {
  for (const ArchParam& p : arch_params())
    if (key == p.key) return &p;
  return nullptr;
}

std::string known_keys() {
  std::string s = kLmemKib;
  for (const ArchParam& p : arch_params()) s += std::string(", ") + p.key;
  return s;
}

// Canonical text of one value, or "" when it is not a valid value for the key.
std::string canonical(const std::string& key, const std::string& text, std::string& why) {
  const ArchParam* p = find_param(key);
  const bool real = p && std::holds_alternative<double Arch::*>(p->member);
  const char* end = text.data() + text.size();
  if (real) {
    double v = 0;
    auto [at, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || at != end || !std::isfinite(v)) return why = "not a number", "";
    if (v < 0 || (v == 0 && !p->cost)) return why = p->cost ? "negative" : "not positive", "";
    return fmt::format("{}", v);
  }
  uint64_t v = 0;
  auto [at, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || at != end || v == 0) return why = "not a positive integer", "";
  return std::to_string(v);
}

}  // namespace

Axis parse_axis(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(fmt::format("--sweep '{}': expected KEY=V1,V2,...", arg));
  Axis a{arg.substr(0, eq), {}};
  if (a.key != kLmemKib && !find_param(a.key))
    throw Error(fmt::format("--sweep '{}': unknown key '{}' (known: {})", arg, a.key, known_keys()));
  std::set<std::string> seen;
  size_t from = eq + 1;
  while (true) {
    const size_t comma = arg.find(',', from);
    const std::string text = arg.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    std::string why;
    const std::string v = canonical(a.key, text, why);
    if (v.empty()) throw Error(fmt::format("--sweep '{}': {} value '{}' is {}", arg, a.key, text, why));
    if (!seen.insert(v).second) throw Error(fmt::format("--sweep '{}': value {} given twice", arg, v));
    a.values.push_back(v);
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return a;
}

std::vector<Axis> parse_axes(const std::vector<std::string>& args) {
  std::vector<Axis> axes;
  std::set<std::string> keys;
  for (const std::string& s : args) {
    axes.push_back(parse_axis(s));
    if (!keys.insert(axes.back().key).second)
      throw Error(fmt::format("--sweep: key '{}' given twice", axes.back().key));
  }
  if (keys.count(kLmemKib) && keys.count("lane_bytes"))
    throw Error("--sweep: lmem_kib and lane_bytes both set the LMEM size; sweep one of them");
  return axes;
}

std::string point_id(const std::vector<Axis>& axes, const std::map<std::string, std::string>& params) {
  std::string id;
  for (const Axis& a : axes) id += (id.empty() ? "" : "__") + a.key + "-" + params.at(a.key);
  return id.empty() ? "base" : id;
}

std::vector<Point> points(const std::vector<Axis>& axes) {
  size_t n = 1;
  for (const Axis& a : axes) n *= a.values.size();
  std::vector<Point> pts(n);
  for (size_t i = 0; i < n; ++i) {
    size_t rest = i;  // mixed-radix digits, the last axis fastest
    for (size_t k = axes.size(); k-- > 0;) {
      pts[i].params[axes[k].key] = axes[k].values[rest % axes[k].values.size()];
      rest /= axes[k].values.size();
    }
    pts[i].index = i;
    pts[i].id = point_id(axes, pts[i].params);
  }
  return pts;
}

std::string Shard::text() const { return fmt::format("{}/{}", k, n); }

Shard parse_shard(const std::string& text) {
  Shard s;
  const size_t slash = text.find('/');
  auto num = [&](const std::string& t, size_t& v) {
    auto [at, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return ec == std::errc() && at == t.data() + t.size() && !t.empty();
  };
  if (slash == std::string::npos || !num(text.substr(0, slash), s.k) || !num(text.substr(slash + 1), s.n))
    throw Error(fmt::format("--shard '{}': expected K/N, e.g. 1/8 (K counts from 1)", text));
  if (s.n == 0 || s.k == 0 || s.k > s.n)
    throw Error(fmt::format("--shard '{}': K must be in 1..N (K counts from 1)", text));
  return s;
}

Arch point_arch(const Arch& base, const std::map<std::string, std::string>& params) {
  std::map<std::string, std::string> values = params;
  if (auto it = values.find(kLmemKib); it != values.end()) {
    const uint64_t lanes = values.count("lanes") ? std::stoull(values.at("lanes")) : base.lanes;
    const uint64_t bytes = std::stoull(it->second) * 1024;
    if (bytes % lanes != 0)
      throw Error(fmt::format("lmem_kib {} does not split evenly over {} lanes", it->second, lanes));
    values["lane_bytes"] = std::to_string(bytes / lanes);
    values.erase(it);
  }
  // The base's values with the point's over them, checked by the architecture loader.
  std::string yaml = "name: dse\n";
  for (const ArchParam& p : arch_params()) {
    std::string v;
    std::visit([&](auto m) { v = fmt::format("{}", base.*m); }, p.member);
    if (auto it = values.find(p.key); it != values.end()) v = it->second;
    yaml += fmt::format("{}: {}\n", p.key, v);
  }
  return arch_from_yaml(yaml, "architecture");
}

std::string file_hash(const std::string& path) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : read_file_bytes(path)) h = (h ^ b) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

bool point_done(const nlohmann::json& j, const Point& p, const SweepKey& key) {
  return j.is_object() && j.value("id", "") == p.id && j.value("model_hash", "") == key.model_hash &&
         j.value("base_arch", "") == key.base_arch && j.contains("status");
}

std::string point_path(const std::string& dir, const Point& p) { return dir + "/points/" + p.id + ".json"; }

nlohmann::json read_point(const std::string& dir, const Point& p) {
  const std::string path = point_path(dir, p);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return nullptr;
  try {
    return nlohmann::json::parse(read_file_text(path));
  } catch (const std::exception&) {
    return nullptr;  // unreadable or not JSON: computed again
  }
}

const std::vector<std::string>& metric_columns() {
  static const std::vector<std::string> cols{
      "cycles",          "latency_us",      "mac_utilization",  "macs",
      "macs_int4",       "gdma_busy",       "tiu_busy",         "ddr_read_bytes",
      "ddr_write_bytes", "lmem_read_bytes", "lmem_write_bytes", "energy_mac_nj",
      "energy_lmem_nj",  "energy_ddr_nj",   "energy_static_nj", "energy_nj",
      "area_mac_mm2",    "area_sram_mm2",   "area_mm2",         "edp_nj_us"};
  return cols;
}

namespace {
// RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string cell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  return v.dump();
}
}  // namespace

std::string results_csv(const std::vector<Axis>& axes, const std::vector<nlohmann::json>& pts) {
  std::string out = "index,id,status";
  for (const Axis& a : axes) out += "," + a.key;
  for (const std::string& c : metric_columns()) out += "," + c;
  out += ",error\n";
  for (const nlohmann::json& j : pts) {
    out += fmt::format("{},{},{}", j.value("index", 0), csv_field(j.value("id", "")), j.value("status", ""));
    const nlohmann::json params = j.value("params", nlohmann::json::object());
    for (const Axis& a : axes) out += "," + csv_field(params.value(a.key, ""));
    const nlohmann::json m = j.value("metrics", nlohmann::json::object());
    for (const std::string& c : metric_columns()) out += "," + (m.contains(c) ? cell(m[c]) : "");
    out += "," + csv_field(j.value("error", "")) + "\n";
  }
  return out;
}

}  // namespace tpusim::workflow::dse
