// The in-memory program model's helpers and its semantic validation. decode_program runs
// validate_program after parsing, and save_program before writing, so every .tpu on disk and every
// program a tool loads satisfies these rules (listed in docs/tpu-format.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <utility>

#include "base/error.h"
#include "isa/program.h"
#include "isa/semantics.h"

namespace tpusim {

ArchRef ArchRef::of(const Arch& a) {
  return ArchRef{a.name, a.fingerprint(), a.lanes, a.lane_bytes, a.ddr_bytes};
}

// Product of the dimensions; 0 when a dimension is < 1, UINT64_MAX when the product overflows.
uint64_t TensorDesc::elements() const {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 1) return 0;
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return UINT64_MAX;
  }
  return n;
}

std::string Program::node_of(Engine e, uint32_t index) const {
  for (const DebugEntry& d : debug)
    if (d.engine == e && d.index == index) return d.node;
  return "";
}

namespace {

// Address spaces the ISA can reach: DDR addresses are the 40-bit dma.* src/dst fields and LMEM
// offsets the 24-bit TIU operand fields. A larger memory could never be used, so it is a defect.
int field_bits(Opcode op, std::string_view field) {
  const OpSpec& s = spec(op);
  return s.fields[s.field_index(field)].bits;
}
uint64_t max_ddr_bytes() { return uint64_t{1} << field_bits(Opcode::DmaLoad, "src"); }
uint64_t max_lane_bytes() { return uint64_t{1} << field_bits(Opcode::Conv2d, "dst"); }

class Validator {
 public:
  Validator(const Program& p, const std::string& source) : p_(p), source_(source) {}

  void run() {
    arch();
    stream(Engine::Gdma, "code.gdma");
    stream(Engine::Tiu, "code.tiu");
    data();
    tensors(p_.inputs, "inputs");
    tensors(p_.outputs, "outputs");
    debug();
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(std::string_view where, fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(fmt::format("{}: {}: {}", source_, where, fmt::format(f, std::forward<Args>(args)...)));
  }

  // Names end up in one-line error messages and in tools' output, so they are bounded and
  // printable. Returns "" when `s` is acceptable.
  static std::string name_problem(const std::string& s) {
    if (s.empty()) return "is empty";
    if (s.size() > kTpuMaxString) return fmt::format("is {} bytes long (limit {})", s.size(), kTpuMaxString);
    for (unsigned char c : s)
      if (c < 0x20 || c == 0x7f) return fmt::format("contains control character 0x{:02x}", c);
    return "";
  }

  // [addr, addr + bytes) inside DDR, without overflowing.
  bool in_ddr(uint64_t addr, uint64_t bytes) const {
    return bytes <= p_.arch.ddr_bytes && addr <= p_.arch.ddr_bytes - bytes;
  }

  void arch() const {
    const ArchRef& a = p_.arch;
    if (a.name.size() > kTpuMaxString)
      fail("arch", "name is {} bytes long (limit {})", a.name.size(), kTpuMaxString);
    if (a.lanes == 0) fail("arch", "lanes is 0");
    if (a.lane_bytes == 0) fail("arch", "lane_bytes is 0");
    if (a.lane_bytes > max_lane_bytes())
      fail("arch", "lane_bytes {} exceeds the LMEM address space ({})", a.lane_bytes, max_lane_bytes());
    if (a.ddr_bytes == 0) fail("arch", "ddr_bytes is 0");
    if (a.ddr_bytes > max_ddr_bytes())
      fail("arch", "ddr_bytes {} exceeds the DDR address space ({})", a.ddr_bytes, max_ddr_bytes());
  }

  void stream(Engine engine, const char* section) const {
    const std::vector<Instr>& code = p_.stream(engine);
    const Engine other = engine == Engine::Gdma ? Engine::Tiu : Engine::Gdma;
    const Geometry geo{p_.arch.lanes, p_.arch.lane_bytes, p_.arch.ddr_bytes};
    if (code.empty()) fail(section, "empty stream (it must end with end)");
    for (size_t i = 0; i < code.size(); ++i) {
      const Instr& in = code[i];
      const OpSpec* s = find_spec(static_cast<uint8_t>(in.op));
      if (!s) fail(section, "instruction {}: unknown opcode 0x{:02x}", i, static_cast<int>(in.op));
      const std::string at = fmt::format("instruction {} ({})", i, s->mnemonic);
      if (i > 0 && code[i - 1].op == Opcode::End) fail(section, "{}: instruction after end", at);
      if (s->engine != Engine::Sys && s->engine != engine)
        fail(section, "{}: {} instruction in the {} stream", at, engine_name(s->engine), engine_name(engine));
      for (int f = 0; f < s->nfields; ++f)
        if (!field_value_ok(s->fields[f], in.f[f]))
          fail(section, "{}: field {} = {} is out of range [{}, {}]", at, s->fields[f].name, in.f[f],
               field_min(s->fields[f]), field_max(s->fields[f]));
      // A sync for more instructions than the other stream holds would wait forever.
      if (in.op == Opcode::Sync && static_cast<uint64_t>(ops::Sync::from(in).count) > p_.stream(other).size())
        fail(section, "{}: count {} exceeds the {} instructions of the {} stream (would wait forever)", at,
             ops::Sync::from(in).count, p_.stream(other).size(), engine_name(other));
      if (std::string why = check(in, geo); !why.empty()) {
        // check() says "<mnemonic>: <reason>"; `at` already names the mnemonic.
        const std::string prefix = std::string(s->mnemonic) + ": ";
        if (why.starts_with(prefix)) why.erase(0, prefix.size());
        fail(section, "{}: {}", at, why);
      }
    }
    if (code.back().op != Opcode::End)
      fail(section, "instruction {} ({}): stream does not end with end", code.size() - 1,
           spec(code.back().op).mnemonic);
  }

  void data() const {
    std::vector<size_t> order(p_.data.size());
    std::iota(order.begin(), order.end(), 0);
    for (size_t i = 0; i < p_.data.size(); ++i) {
      const DataBlock& d = p_.data[i];
      if (!in_ddr(d.ddr_addr, d.bytes.size()))
        fail("data", "block {}: bytes [0x{:x}, +{}) lie outside DDR ({} bytes)", i, d.ddr_addr,
             d.bytes.size(), p_.arch.ddr_bytes);
    }
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return p_.data[a].ddr_addr < p_.data[b].ddr_addr; });
    const DataBlock* prev = nullptr;
    size_t prev_index = 0;
    for (size_t i : order) {
      const DataBlock& d = p_.data[i];
      if (d.bytes.empty()) continue;
      if (prev && d.ddr_addr < prev->ddr_addr + prev->bytes.size())
        fail("data", "block {} at 0x{:x} overlaps block {} [0x{:x}, 0x{:x})", i, d.ddr_addr, prev_index,
             prev->ddr_addr, prev->ddr_addr + prev->bytes.size());
      prev = &d;
      prev_index = i;
    }
  }

  void tensors(const std::vector<TensorDesc>& ts, const char* section) const {
    std::set<std::string> names;
    for (size_t i = 0; i < ts.size(); ++i) {
      const TensorDesc& t = ts[i];
      if (std::string why = name_problem(t.name); !why.empty()) fail(section, "tensor {}: name {}", i, why);
      const std::string at = fmt::format("tensor {} '{}'", i, t.name);
      if (!names.insert(t.name).second) fail(section, "{}: duplicate name", at);
      if (!valid_dtype(static_cast<int>(t.dtype)))
        fail(section, "{}: dtype id {} is not an element type", at, static_cast<int>(t.dtype));
      if (t.shape.empty() || t.shape.size() > kTpuMaxRank)
        fail(section, "{}: rank {} (must be 1..{})", at, t.shape.size(), kTpuMaxRank);
      for (size_t d = 0; d < t.shape.size(); ++d)
        if (t.shape[d] < 1) fail(section, "{}: dimension {} is {} (must be >= 1)", at, d, t.shape[d]);
      // Element count bounded by what DDR could hold before bytes() multiplies it by the width.
      const uint64_t elements = t.elements();
      if (elements > p_.arch.ddr_bytes * 8 / static_cast<uint64_t>(bits(t.dtype)))
        fail(section, "{}: shape {} does not fit in DDR ({} bytes)", at, fmt::join(t.shape, "x"),
             p_.arch.ddr_bytes);
      if (!in_ddr(t.ddr_addr, t.bytes()))
        fail(section, "{}: bytes [0x{:x}, +{}) lie outside DDR ({} bytes)", at, t.ddr_addr, t.bytes(),
             p_.arch.ddr_bytes);
      if (!std::isfinite(t.scale) || !(t.scale > 0))
        fail(section, "{}: scale {} (must be finite and > 0)", at, t.scale);
      const DTypeTraits& tr = traits(t.dtype);
      if (t.zero_point < tr.qmin || t.zero_point > tr.qmax)
        fail(section, "{}: zero point {} is outside {} [{}, {}]", at, t.zero_point, tr.name, tr.qmin,
             tr.qmax);
    }
  }

  void debug() const {
    std::set<std::pair<Engine, uint32_t>> seen;
    for (size_t i = 0; i < p_.debug.size(); ++i) {
      const DebugEntry& d = p_.debug[i];
      if (d.engine != Engine::Gdma && d.engine != Engine::Tiu)
        fail("debug", "entry {}: engine {} has no stream", i, static_cast<int>(d.engine));
      const char* section = d.engine == Engine::Gdma ? "code.gdma" : "code.tiu";
      if (d.index >= p_.stream(d.engine).size())
        fail("debug", "entry {}: instruction {} is past the end of {} ({} instructions)", i, d.index, section,
             p_.stream(d.engine).size());
      if (!seen.insert({d.engine, d.index}).second)
        fail("debug", "entry {}: second entry for {} instruction {}", i, section, d.index);
      if (std::string why = name_problem(d.node); !why.empty())
        fail("debug", "entry {}: node name {}", i, why);
    }
  }

  const Program& p_;
  const std::string& source_;
};

}  // namespace

void validate_program(const Program& p, const std::string& source) { Validator(p, source).run(); }

}  // namespace tpusim
