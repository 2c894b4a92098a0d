#include "qat/qtable.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include "base/error.h"
#include "base/file_io.h"
#include "base/printable.h"

namespace tpusim::qat {

std::string bits_name(const LayerBits& b) { return fmt::format("w{}a{}", b.weight, b.act); }

QTable parse_qtable(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}:{}: invalid YAML: {}", source, e.mark.line + 1, printable(e.msg, 400)));
  }
  if (!root.IsMap()) {
    const int line = root.IsDefined() && !root.IsNull() ? root.Mark().line + 1 : 1;
    throw Error(
        fmt::format("{}:{}: expected a mapping of layer names to bit widths (conv1: w8a8)", source, line));
  }
  QTable t;
  std::set<std::string> seen;
  for (const auto& kv : root) {
    const int line = kv.first.Mark().line + 1;
    if (!kv.first.IsScalar() || kv.first.Scalar().empty())
      throw Error(fmt::format("{}:{}: a layer name must be a non-empty string", source, line));
    const std::string name = kv.first.Scalar();
    if (!seen.insert(name).second)
      throw Error(fmt::format("{}:{}: layer '{}' is given twice", source, line, printable(name)));
    if (!kv.second.IsScalar())
      throw Error(fmt::format("{}:{}: layer '{}': expected wXaY (e.g. w4a8)", source, line, printable(name)));
    try {
      t.push_back({name, parse_bits(kv.second.Scalar())});
    } catch (const Error& e) {
      throw Error(fmt::format("{}:{}: layer '{}': {}", source, line, printable(name), e.what()));
    }
  }
  if (t.empty()) throw Error(fmt::format("{}: no layer in the table", source));
  return t;
}

QTable read_qtable(const std::string& path) { return parse_qtable(read_file_text(path), path); }

void check_qtable_layers(const QTable& t, const std::vector<std::string>& layers, const std::string& model,
                         const std::string& source) {
  for (const QTableEntry& e : t)
    if (std::find(layers.begin(), layers.end(), e.layer) == layers.end())
      throw Error(fmt::format("{}: layer '{}' is not in model {} (its layers: {})", source,
                              printable(e.layer), model, fmt::join(layers, ", ")));
}

std::string qtable_yaml(const QTable& t, const std::string& comment) {
  std::ostringstream s;
  std::istringstream c(comment);
  for (std::string line; std::getline(c, line);) s << "# " << line << "\n";
  // The zoo's names are plain YAML keys; anything else (or a word YAML reads as null/bool) is quoted.
  static const std::regex plain("[A-Za-z_][A-Za-z0-9_.-]*");
  static const std::regex special(
      "(?:null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|"
      "N)");
  for (const QTableEntry& e : t) {
    if (std::regex_match(e.layer, plain) && !std::regex_match(e.layer, special)) {
      s << e.layer;
    } else {
      YAML::Emitter key;
      key << YAML::DoubleQuoted << e.layer;
      s << key.c_str();
    }
    s << ": " << bits_name(e.bits) << "\n";
  }
  return s.str();
}

void apply_qtable(const QTable& t, QuantConfig& q) {
  for (const QTableEntry& e : t) q.layers[e.layer] = e.bits;
}

}  // namespace tpusim::qat
