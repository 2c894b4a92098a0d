// Architecture YAML: load with validation (errors name the key), print, and resolve --arch.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>

#include "base/error.h"
#include "base/file_io.h"
#include "base/printable.h"
#include "isa/arch.h"

namespace tpusim {

namespace {

// Hard limits that come from the instruction encoding, not from taste.
constexpr uint64_t kMaxLaneBytes = uint64_t{1} << 24;  // 24-bit LMEM offsets
constexpr uint64_t kMaxDdrBytes = uint64_t{1} << 40;   // 40-bit DMA addresses
constexpr uint64_t kMaxLanes = 65535;                  // 16-bit channel counts

[[noreturn]] void fail(const std::string& source, const std::string& key, const std::string& what) {
  throw Error(fmt::format("{}: key '{}': {}", source, printable(key), printable(what, 2000)));
}

std::string scalar_text(const YAML::Node& n, const std::string& source, const std::string& key) {
  if (!n.IsScalar()) fail(source, key, "expected a scalar value");
  return n.Scalar();
}

uint64_t parse_positive_int(const std::string& text, const std::string& source, const std::string& key,
                            uint64_t max) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end) fail(source, key, fmt::format("'{}' is not a positive integer", text));
  if (v == 0) fail(source, key, "must be positive");
  if (v > max) fail(source, key, fmt::format("{} exceeds the maximum {}", v, max));
  return v;
}

// Cost parameters may be 0 (e.g. no leakage), behavioural ones may not (a 0 MHz clock).
double parse_real(const std::string& text, const std::string& source, const std::string& key, bool zero_ok) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end) fail(source, key, fmt::format("'{}' is not a number", text));
  if (zero_ok && (!std::isfinite(v) || v < 0)) fail(source, key, "must be a non-negative finite number");
  if (!zero_ok && (!std::isfinite(v) || v <= 0)) fail(source, key, "must be a positive finite number");
  return v;
}

uint64_t max_for(const std::string& key, uint64_t type_max) {
  if (key == "lane_bytes") return kMaxLaneBytes;
  if (key == "ddr_bytes") return kMaxDdrBytes;
  if (key == "lanes") return kMaxLanes;
  return type_max;
}

const ArchParam* find_param(const std::string& key) {
  for (const ArchParam& p : arch_params())
    if (key == p.key) return &p;
  return nullptr;
}

}  // namespace

Arch arch_from_yaml(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(
        fmt::format("{}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, printable(e.msg, 400)));
  }
  if (!root.IsMap()) throw Error(fmt::format("{}: expected a mapping of architecture keys", source));

  Arch arch = arch_preset("default");
  if (const YAML::Node base = root["base"]) {
    const std::string b = scalar_text(base, source, "base");
    try {
      arch = arch_preset(b);
    } catch (const Error& e) {
      fail(source, "base", e.what());
    }
  }
  arch.name = std::filesystem::path(source).stem().string();
  for (const auto& kv : root) {
    if (!kv.first.IsScalar())  // `[name]: x` or `{a: b}: x`: yaml-cpp would throw its own exception
      throw Error(fmt::format("{}:{}: a key must be a plain name, not a list or mapping", source,
                              kv.first.Mark().line + 1));
    const std::string key = kv.first.as<std::string>();
    if (key == "base") continue;
    if (key == "name") {
      arch.name = scalar_text(kv.second, source, key);
      if (arch.name.empty() || arch.name.size() > 64) fail(source, key, "must be 1 to 64 characters");
      if (printable(arch.name) != arch.name) fail(source, key, "must not contain control characters");
      continue;
    }
    const ArchParam* p = find_param(key);
    if (!p) {
      std::string known = "base, name";
      for (const ArchParam& q : arch_params()) known += std::string(", ") + q.key;
      fail(source, key, fmt::format("unknown key (known: {})", known));
    }
    const std::string t = scalar_text(kv.second, source, key);
    std::visit(
        [&](auto m) {
          using T = std::remove_reference_t<decltype(arch.*m)>;
          if constexpr (std::is_same_v<T, double>)
            arch.*m = parse_real(t, source, key, p->cost);
          else
            arch.*m = static_cast<T>(
                parse_positive_int(t, source, key, max_for(key, std::numeric_limits<T>::max())));
        },
        p->member);
  }
  if (arch.lane_bytes % arch.banks_per_lane != 0)
    fail(source, "banks_per_lane",
         fmt::format("{} does not divide lane_bytes {}", arch.banks_per_lane, arch.lane_bytes));
  return arch;
}

Arch load_arch_file(const std::string& path) { return arch_from_yaml(read_file_text(path), path); }

Arch resolve_arch(const std::string& name_or_path) {
  for (const Arch& a : arch_presets())
    if (a.name == name_or_path) return a;
  std::error_code ec;
  if (!std::filesystem::exists(name_or_path, ec)) {
    std::string names;
    for (const Arch& a : arch_presets()) names += (names.empty() ? "" : ", ") + a.name;
    throw Error(fmt::format("--arch {}: neither a preset ({}) nor an existing file", name_or_path, names));
  }
  return load_arch_file(name_or_path);
}

// The name as a YAML scalar: plain when it is letters, digits and _ . - (not starting with - or .),
// and not YAML's null, else single-quoted ('' for a quote), so that any accepted name reads back (found by
// fuzz_arch_yaml: "tin{" was printed bare and did not parse).
namespace {
std::string yaml_name(const std::string& n) {
  bool plain = !n.empty() && n[0] != '-' && n[0] != '.' && n != "null" && n != "Null" && n != "NULL";
  for (char c : n)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (plain) return n;
  std::string q = "'";
  for (char c : n) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}
}  // namespace

std::string arch_to_yaml(const Arch& a) {
  std::string out = fmt::format("name: {}\n", yaml_name(a.name));
  for (const ArchParam& p : arch_params())
    std::visit([&](auto m) { out += fmt::format("{}: {}  # {}\n", p.key, a.*m, p.doc); }, p.member);
  return out;
}

}  // namespace tpusim
