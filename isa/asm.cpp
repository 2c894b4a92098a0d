// The assembler: one statement per line, dispatched on its first word. Field names, widths and
// enum spellings all come from the ISA table through asm_syntax, so nothing here names an opcode.
#include "isa/asm.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "base/error.h"
#include "base/printable.h"
#include "isa/asm_syntax.h"
#include "isa/semantics.h"

namespace tpusim {

namespace {

using asm_syntax::Token;
using Tokens = std::vector<Token>;

Instr instr_from_tokens(const Tokens& t) {
  const OpSpec* s = t[0].quoted ? nullptr : find_spec(std::string_view(t[0].text));
  if (!s) throw Error(fmt::format("unknown mnemonic '{}'", t[0].text));
  Instr in;
  in.op = s->op;
  std::array<bool, kMaxFields> seen{};
  for (size_t i = 1; i < t.size(); ++i) {
    if (!t[i].is_key_value())
      throw Error(fmt::format("{}: expected field=value, got '{}'", s->mnemonic, t[i].text));
    const int idx = s->field_index(t[i].key());
    if (idx < 0) throw Error(fmt::format("{} has no field '{}'", s->mnemonic, t[i].key()));
    if (seen[idx]) throw Error(fmt::format("{}: duplicate field '{}'", s->mnemonic, t[i].key()));
    seen[idx] = true;
    in.f[idx] = asm_syntax::parse_field(*s, s->fields[idx], t[i].value());
  }
  return in;
}

// The key=value arguments of a directive, all of them required.
class Args {
 public:
  Args(std::string_view directive, const Tokens& t, size_t first,
       std::initializer_list<std::string_view> keys)
      : dir_(directive) {
    for (size_t i = first; i < t.size(); ++i) {
      if (!t[i].is_key_value()) throw Error(fmt::format("{}: expected key=value, got '{}'", dir_, t[i].text));
      const std::string key(t[i].key());
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string known;
        for (std::string_view k : keys) known += (known.empty() ? "" : ", ") + std::string(k);
        throw Error(fmt::format("{}: unknown key '{}' (keys: {})", dir_, key, known));
      }
      if (!kv_.emplace(key, t[i].value()).second)
        throw Error(fmt::format("{}: duplicate key '{}'", dir_, key));
    }
    for (std::string_view k : keys)
      if (!kv_.count(std::string(k))) throw Error(fmt::format("{}: missing key '{}'", dir_, k));
  }

  const std::string& text(const std::string& key) const { return kv_.at(key); }

  int64_t integer(const std::string& key, int64_t lo, int64_t hi) const {
    const std::optional<int64_t> v = asm_syntax::parse_int(text(key));
    if (!v) throw Error(fmt::format("{} {}: malformed number '{}'", dir_, key, text(key)));
    if (*v < lo || *v > hi)
      throw Error(fmt::format("{} {}: value {} is out of range [{}, {}]", dir_, key, text(key), lo, hi));
    return *v;
  }
  uint64_t u64(const std::string& key) const {
    const std::optional<uint64_t> v = asm_syntax::parse_uint(text(key));
    if (!v) throw Error(fmt::format("{} {}: malformed number '{}'", dir_, key, text(key)));
    return *v;
  }
  float real(const std::string& key) const {
    const std::optional<float> v = asm_syntax::parse_float(text(key));
    if (!v) throw Error(fmt::format("{} {}: malformed number '{}'", dir_, key, text(key)));
    return *v;
  }
  std::vector<int64_t> shape(const std::string& key) const {
    std::vector<int64_t> dims;
    const std::string& s = text(key);
    for (size_t pos = 0; !s.empty() && pos <= s.size();) {
      const size_t x = std::min(s.find('x', pos), s.size());
      const std::string_view dim = std::string_view(s).substr(pos, x - pos);
      const bool digits =
          !dim.empty() && std::all_of(dim.begin(), dim.end(), [](char c) { return c >= '0' && c <= '9'; });
      const std::optional<int64_t> v = digits ? asm_syntax::parse_int(dim) : std::nullopt;
      if (!v) throw Error(fmt::format("{} {}: malformed shape '{}' (expected e.g. 1x4x8x8)", dir_, key, s));
      dims.push_back(*v);
      pos = x + 1;
    }
    return dims;
  }

 private:
  std::string_view dir_;
  std::map<std::string, std::string> kv_;
};

class Assembler {
 public:
  // Handles one non-empty statement; throws Error with the problem only (the caller adds the line).
  void statement(const Tokens& t) {
    const std::string word = t[0].quoted ? std::string() : t[0].text;
    const bool continuation = word == ".bytes" || word == ".i8" || word == ".i32";
    if (word == ".arch")
      arch(t);
    else if (!have_arch_)
      throw Error("missing .arch: a program starts with .arch NAME");
    else if (word == ".input")
      p_.inputs.push_back(tensor(t));
    else if (word == ".output")
      p_.outputs.push_back(tensor(t));
    else if (word == ".data")
      data(t);
    else if (continuation)
      data_values(t);
    else if (word == ".gdma" || word == ".tiu")
      stream(t);
    else if (word == ".node")
      node(t);
    else if (word == ".debug")
      debug(t);
    else if (!word.empty() && word[0] == '.')
      throw Error(fmt::format("unknown directive '{}'", word));
    else
      instruction(t);
    data_open_ = word == ".data" || continuation;
  }

  Program finish() {
    if (!have_arch_) throw Error("missing .arch: a program starts with .arch NAME");
    // .node markers describe each stream separately; the debug map lists GDMA entries, then TIU.
    if (used_node_)
      std::stable_sort(p_.debug.begin(), p_.debug.end(), [](const DebugEntry& a, const DebugEntry& b) {
        return std::pair(a.engine, a.index) < std::pair(b.engine, b.index);
      });
    return std::move(p_);
  }

 private:
  static void no_args(const Tokens& t) {
    if (t.size() > 1) throw Error(fmt::format("{} takes no arguments, got '{}'", t[0].text, t[1].text));
  }

  void arch(const Tokens& t) {
    if (have_arch_) throw Error("duplicate .arch");
    if (t.size() < 2 || t[1].is_key_value())
      throw Error(".arch needs a name: .arch NAME [fingerprint=N lanes=N lane_bytes=N ddr_bytes=N]");
    if (t.size() == 2) {
      p_.arch = ArchRef::of(arch_preset(t[1].text));
    } else {
      Args a(".arch", t, 2, {"fingerprint", "lanes", "lane_bytes", "ddr_bytes"});
      p_.arch.name = t[1].text;
      p_.arch.fingerprint = a.u64("fingerprint");
      p_.arch.lanes = static_cast<uint32_t>(a.integer("lanes", 0, UINT32_MAX));
      p_.arch.lane_bytes = static_cast<uint32_t>(a.integer("lane_bytes", 0, UINT32_MAX));
      p_.arch.ddr_bytes = a.u64("ddr_bytes");
    }
    have_arch_ = true;
  }

  TensorDesc tensor(const Tokens& t) const {
    Args a(t[0].text, t, 1, {"name", "shape", "dtype", "scale", "zp", "addr"});
    TensorDesc d;
    d.name = a.text("name");
    d.shape = a.shape("shape");
    const std::optional<DType> dt = dtype_from_name(a.text("dtype"));
    if (!dt)
      throw Error(fmt::format("{} dtype: unknown element type '{}' ({})", t[0].text, a.text("dtype"),
                              asm_syntax::enum_choices(FieldKind::D)));
    d.dtype = *dt;
    d.scale = a.real("scale");
    d.zero_point = static_cast<int32_t>(a.integer("zp", INT32_MIN, INT32_MAX));
    d.ddr_addr = a.u64("addr");
    return d;
  }

  void data(const Tokens& t) {
    if (t.size() < 2) throw Error(".data needs addr=ADDRESS");
    const Tokens head(t.begin(), t.begin() + 2);  // ".data addr=A"; any further words are bytes
    p_.data.push_back(DataBlock{Args(".data", head, 1, {"addr"}).u64("addr"), {}});
    append_hex(t, 2);
  }

  void data_values(const Tokens& t) {
    if (!data_open_) throw Error(fmt::format("{} must follow .data or another data line", t[0].text));
    if (t[0].text == ".bytes") return append_hex(t, 1);
    const bool wide = t[0].text == ".i32";
    const int64_t lo = wide ? INT32_MIN : INT8_MIN, hi = wide ? UINT32_MAX : UINT8_MAX;
    for (size_t i = 1; i < t.size(); ++i) {
      const std::optional<int64_t> v = asm_syntax::parse_int(t[i].text);
      if (!v) throw Error(fmt::format("{}: malformed number '{}'", t[0].text, t[i].text));
      if (*v < lo || *v > hi)
        throw Error(fmt::format("{}: value {} is out of range [{}, {}]", t[0].text, *v, lo, hi));
      for (int b = 0; b < (wide ? 4 : 1); ++b)  // little-endian, two's complement
        p_.data.back().bytes.push_back(static_cast<uint8_t>(static_cast<uint64_t>(*v) >> (8 * b)));
    }
  }

  void append_hex(const Tokens& t, size_t first) {
    for (size_t i = first; i < t.size(); ++i) {
      const std::string& s = t[i].text;
      const std::optional<uint64_t> v = s.size() == 2 ? asm_syntax::parse_uint("0x" + s) : std::nullopt;
      if (!v || t[i].quoted) throw Error(fmt::format("malformed byte '{}' (expected two hex digits)", s));
      p_.data.back().bytes.push_back(static_cast<uint8_t>(*v));
    }
  }

  void stream(const Tokens& t) {
    no_args(t);
    stream_ = t[0].text == ".gdma" ? Engine::Gdma : Engine::Tiu;
  }

  void node(const Tokens& t) {
    if (t.size() != 2) throw Error(".node needs one name (or - to clear)");
    if (!stream_) throw Error(".node before .gdma or .tiu");
    if (used_debug_) throw Error("cannot mix .node and .debug");
    if (t[1].quoted && t[1].text.empty()) throw Error(".node: empty name (use .node - to clear)");
    used_node_ = true;
    node_[*stream_ == Engine::Gdma ? 0 : 1] = !t[1].quoted && t[1].text == "-" ? "" : t[1].text;
  }

  void debug(const Tokens& t) {
    if (used_node_) throw Error("cannot mix .node and .debug");
    used_debug_ = true;
    Args a(".debug", t, 1, {"engine", "index", "node"});
    DebugEntry e;
    const std::string& eng = a.text("engine");
    if (eng == "gdma")
      e.engine = Engine::Gdma;
    else if (eng == "tiu")
      e.engine = Engine::Tiu;
    else if (eng == "sys")
      e.engine = Engine::Sys;
    else
      throw Error(fmt::format(".debug engine: '{}' is not one of gdma|tiu|sys", eng));
    e.index = static_cast<uint32_t>(a.integer("index", 0, UINT32_MAX));
    e.node = a.text("node");
    p_.debug.push_back(std::move(e));
  }

  void instruction(const Tokens& t) {
    const Instr in = instr_from_tokens(t);
    const OpSpec& s = spec(in.op);
    if (!stream_) throw Error(fmt::format("{} before .gdma or .tiu", s.mnemonic));
    if (s.engine != Engine::Sys && s.engine != *stream_)
      throw Error(fmt::format("{} is a {} instruction but the current stream is .{}", s.mnemonic,
                              engine_name(s.engine), engine_name(*stream_)));
    // Semantic checks here, not only in validate_program, so the error names the line.
    const Geometry geo{p_.arch.lanes, p_.arch.lane_bytes, p_.arch.ddr_bytes};
    if (const std::string why = check(in, geo); !why.empty()) throw Error(why);  // "<mnemonic>: <reason>"
    std::vector<Instr>& code = p_.stream(*stream_);
    const std::string& node = node_[*stream_ == Engine::Gdma ? 0 : 1];
    if (!node.empty()) p_.debug.push_back(DebugEntry{*stream_, static_cast<uint32_t>(code.size()), node});
    code.push_back(in);
  }

  Program p_;
  bool have_arch_ = false;
  std::optional<Engine> stream_;
  std::array<std::string, 2> node_;  // current .node of the GDMA and the TIU stream
  bool data_open_ = false;           // the previous statement was .data or a data line
  bool used_node_ = false, used_debug_ = false;
};

template <class F>
auto at_line(const std::string& source, int line_no, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    // A quoted token's escapes (\n) may have put control characters into the echoed text.
    const std::string_view what = e.what();
    throw Error(fmt::format("{}:{}: {}", source, line_no, printable(what, what.size())));
  }
}

}  // namespace

Instr parse_instr(std::string_view line, const std::string& source, int line_no) {
  return at_line(source, line_no, [&] {
    const Tokens t = asm_syntax::tokenize(line);
    if (t.empty()) throw Error("expected an instruction");
    return instr_from_tokens(t);
  });
}

Program assemble(std::string_view text, const std::string& source) {
  Assembler as;
  int line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    at_line(source, line_no, [&] {
      const Tokens t = asm_syntax::tokenize(line);
      if (!t.empty()) as.statement(t);
    });
  }
  Program p = at_line(source, std::max(line_no, 1), [&] { return as.finish(); });
  validate_program(p, source);
  return p;
}

}  // namespace tpusim
