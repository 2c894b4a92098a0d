// The disassembler: prints a Program in the syntax asm.cpp reads, losing nothing, so that
// assemble(disassemble(p)) == p and the .tpu bytes survive a round trip through text.
#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "isa/asm.h"
#include "isa/asm_syntax.h"

namespace tpusim {

namespace {

constexpr size_t kBytesPerLine = 32;

// Mnemonics are padded to the longest one so that the fields of a listing line up.
constexpr size_t mnemonic_width() {
  size_t w = 0;
  for (const OpSpec& s : kOpSpecs) w = std::max(w, std::string_view(s.mnemonic).size());
  return w;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", i ? "x" : "", shape[i]);
  return s;
}

std::string format_tensor(const char* directive, const TensorDesc& t) {
  return fmt::format("{} name={} shape={} dtype={} scale={} zp={} addr=0x{:x}\n", directive,
                     asm_syntax::quote(t.name), format_shape(t.shape), name(t.dtype), t.scale, t.zero_point,
                     t.ddr_addr);
}

std::string format_arch(const ArchRef& a) {
  // The short form only when it means exactly the same ArchRef.
  for (const Arch& preset : arch_presets())
    if (preset.name == a.name && ArchRef::of(preset) == a)
      return fmt::format(".arch {}\n", asm_syntax::quote(a.name));
  return fmt::format(".arch {} fingerprint=0x{:016x} lanes={} lane_bytes={} ddr_bytes={}\n",
                     asm_syntax::quote(a.name), a.fingerprint, a.lanes, a.lane_bytes, a.ddr_bytes);
}

std::string format_data(const DataBlock& d) {
  std::string out = fmt::format(".data addr=0x{:x}  ; {} bytes\n", d.ddr_addr, d.bytes.size());
  for (size_t off = 0; off < d.bytes.size(); off += kBytesPerLine) {
    out += ".bytes";
    const size_t end = std::min(d.bytes.size(), off + kBytesPerLine);
    for (size_t i = off; i < end; ++i) out += fmt::format(" {:02x}", d.bytes[i]);
    out += fmt::format("{:{}}  ; +0x{:x}\n", "", 3 * (off + kBytesPerLine - end), off);
  }
  return out;
}

// The debug map can be written as .node markers when it is what markers produce: at most one
// non-empty entry per instruction, GDMA entries then TIU entries, each in index order.
bool debug_map_fits_markers(const Program& p) {
  for (size_t i = 0; i < p.debug.size(); ++i) {
    const DebugEntry& e = p.debug[i];
    if (e.engine == Engine::Sys || e.node.empty() || e.index >= p.stream(e.engine).size()) return false;
    if (i > 0 && std::pair(p.debug[i - 1].engine, p.debug[i - 1].index) >= std::pair(e.engine, e.index))
      return false;
  }
  return true;
}

std::string format_stream(const Program& p, Engine e, bool markers) {
  std::string out = fmt::format("\n.{}\n", engine_name(e));
  const std::vector<Instr>& code = p.stream(e);
  std::vector<std::string> nodes(code.size());
  if (markers)
    for (const DebugEntry& d : p.debug)
      if (d.engine == e) nodes[d.index] = d.node;
  std::string current;
  for (size_t i = 0; i < code.size(); ++i) {
    if (nodes[i] != current) {
      current = nodes[i];
      out += fmt::format(".node {}\n", current.empty()  ? "-"
                                       : current == "-" ? "\"-\""
                                                        : asm_syntax::quote(current));
    }
    out += fmt::format("  {}  ; [{}]\n", format_instr(code[i]), i);
  }
  return out;
}

}  // namespace

std::string format_instr(const Instr& in) {
  const OpSpec* s = find_spec(static_cast<uint8_t>(in.op));
  if (!s) throw Error(fmt::format("format_instr: unknown opcode 0x{:02x}", static_cast<int>(in.op)));
  std::string out = fmt::format("{:<{}}", s->mnemonic, mnemonic_width());
  for (int i = 0; i < s->nfields; ++i)
    out += fmt::format(" {}={}", s->fields[i].name, asm_syntax::format_field(s->fields[i], in.f[i]));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string disassemble(const Program& p) {
  std::string out = "; tpusim assembly (tpusim asm turns this text back into the same .tpu bytes)\n";
  out += format_arch(p.arch);
  if (!p.inputs.empty() || !p.outputs.empty()) out += "\n";
  for (const TensorDesc& t : p.inputs) out += format_tensor(".input", t);
  for (const TensorDesc& t : p.outputs) out += format_tensor(".output", t);
  for (const DataBlock& d : p.data) out += "\n" + format_data(d);
  const bool markers = debug_map_fits_markers(p);
  out += format_stream(p, Engine::Gdma, markers);
  out += format_stream(p, Engine::Tiu, markers);
  if (!markers) {
    out += "\n; debug map (not expressible as .node markers)\n";
    for (const DebugEntry& d : p.debug)
      out += fmt::format(".debug engine={} index={} node={}\n", engine_name(d.engine), d.index,
                         asm_syntax::quote(d.node));
  }
  return out;
}

}  // namespace tpusim
