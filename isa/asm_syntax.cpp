#include "isa/asm_syntax.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "base/error.h"
#include "isa/dtype.h"

namespace tpusim::asm_syntax {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }
bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::array<const char*, 2> kPoolModeNames{"max", "avg"};      // indexed by PoolMode
constexpr std::array<const char*, 3> kEltOpNames{"add", "mul", "max"};  // indexed by EltOp

}  // namespace

std::vector<Token> tokenize(std::string_view line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    if (is_space(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == ';' || line[i] == '#') break;
    Token t;
    while (i < line.size() && !is_space(line[i]) && line[i] != ';' && line[i] != '#') {
      const char c = line[i++];
      if (c == '=' && t.eq == std::string::npos) t.eq = t.text.size();
      if (c != '"') {
        t.text += c;
        continue;
      }
      t.quoted = true;
      for (;;) {
        if (i >= line.size()) throw Error("unterminated string");
        const char q = line[i++];
        if (q == '"') break;
        if (q != '\\') {
          t.text += q;
          continue;
        }
        if (i >= line.size()) throw Error("unterminated string");
        const char e = line[i++];
        if (e == '"' || e == '\\')
          t.text += e;
        else if (e == 'n')
          t.text += '\n';
        else if (e == 't')
          t.text += '\t';
        else if (e == 'x' && i + 1 < line.size() && hex_digit(line[i]) >= 0 && hex_digit(line[i + 1]) >= 0) {
          t.text += static_cast<char>(hex_digit(line[i]) * 16 + hex_digit(line[i + 1]));
          i += 2;
        } else {
          throw Error(fmt::format("bad escape '\\{}' in string", e));
        }
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string quote(std::string_view name) {
  bool bare = !name.empty();
  for (char c : name)
    if (is_space(c) || is_control(c) || c == ';' || c == '#' || c == '"' || c == '=' || c == '\\')
      bare = false;
  if (bare) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\')
      out += fmt::format("\\{}", c);
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (is_control(c))
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out + "\"";
}

std::optional<int64_t> parse_int(std::string_view s) {
  const bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  const std::optional<uint64_t> mag = parse_uint(s);
  if (!mag) return std::nullopt;
  constexpr uint64_t kMaxPos = static_cast<uint64_t>(INT64_MAX);
  if (!neg) return *mag <= kMaxPos ? std::optional<int64_t>(static_cast<int64_t>(*mag)) : std::nullopt;
  if (*mag > kMaxPos + 1) return std::nullopt;
  return static_cast<int64_t>(0 - *mag);  // two's complement negation, also right for INT64_MIN
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s[0] == '-') return std::nullopt;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty() || s[0] == '+' || s[0] == '-') return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<float> parse_float(std::string_view s) {
  float v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

const char* enum_name(FieldKind k, int64_t v) {
  switch (k) {
    case FieldKind::D: return valid_dtype(v) ? name(static_cast<DType>(v)) : nullptr;
    case FieldKind::P: return v >= 0 && v < int64_t(kPoolModeNames.size()) ? kPoolModeNames[v] : nullptr;
    case FieldKind::E: return v >= 0 && v < int64_t(kEltOpNames.size()) ? kEltOpNames[v] : nullptr;
    case FieldKind::U:
    case FieldKind::S: break;
  }
  return nullptr;
}

std::optional<int64_t> enum_value(FieldKind k, std::string_view name) {
  for (int64_t v = 0;; ++v) {
    const char* n = enum_name(k, v);
    if (!n) return std::nullopt;
    if (name == n) return v;
  }
}

std::string enum_choices(FieldKind k) {
  std::string out;
  for (int64_t v = 0; const char* n = enum_name(k, v); ++v) out += (v ? "|" : "") + std::string(n);
  return out;
}

bool is_address_field(std::string_view n) {
  for (std::string_view a : {"dst", "src", "weight", "bias", "rq", "table", "params", "a", "b"})
    if (n == a) return true;
  return false;
}

std::string format_field(const FieldSpec& f, int64_t v) {
  if (const char* n = enum_name(f.kind, v)) return n;
  if (is_address_field(f.name) && v >= 0) return fmt::format("0x{:x}", v);
  return fmt::format("{}", v);
}

int64_t parse_field(const OpSpec& s, const FieldSpec& f, std::string_view text) {
  std::optional<int64_t> v = enum_value(f.kind, text);
  if (!v) v = parse_int(text);
  if (!v) {
    const std::string choices = enum_choices(f.kind);
    if (!choices.empty())
      throw Error(
          fmt::format("{} {}: '{}' is not one of {} (or a number)", s.mnemonic, f.name, text, choices));
    throw Error(fmt::format("{} {}: malformed number '{}'", s.mnemonic, f.name, text));
  }
  if (!field_value_ok(f, *v)) {
    if (is_address_field(f.name))
      throw Error(fmt::format("{} {}: value {} is out of range [0x{:x}, 0x{:x}]", s.mnemonic, f.name, text,
                              field_min(f), field_max(f)));
    throw Error(fmt::format("{} {}: value {} is out of range [{}, {}]", s.mnemonic, f.name, text,
                            field_min(f), field_max(f)));
  }
  return *v;
}

}  // namespace tpusim::asm_syntax
