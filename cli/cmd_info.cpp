// tpusim info: what a .tpu holds — header, section table, instruction mix per stream, I/O tensors,
// data blocks and debug map — as text or JSON (--json, for scripts).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/file_io.h"
#include "cli/command.h"
#include "isa/program.h"

namespace tpusim::cli {

namespace {

std::string section_name(uint32_t kind) {
  const char* name = tpu_section_name(kind);
  return name ? name : fmt::format("0x{:08x} (optional, unknown)", kind);
}

// Opcode mnemonic -> count, in ISA table order.
std::vector<std::pair<std::string, size_t>> opcode_counts(const std::vector<Instr>& code) {
  std::vector<std::pair<std::string, size_t>> out;
  for (const OpSpec& s : kOpSpecs) {
    size_t n = 0;
    for (const Instr& in : code) n += in.op == s.op;
    if (n) out.emplace_back(s.mnemonic, n);
  }
  return out;
}

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("{}", fmt::join(shape, "x")); }

nlohmann::json tensor_json(const TensorDesc& t) {
  return {{"name", t.name},    {"shape", t.shape},           {"dtype", name(t.dtype)},
          {"scale", t.scale},  {"zero_point", t.zero_point}, {"addr", t.ddr_addr},
          {"bytes", t.bytes()}};
}

nlohmann::json info_json(const std::string& path, const std::vector<uint8_t>& file, const TpuLayout& layout,
                         const Program& p) {
  nlohmann::json j;
  j["file"] = path;
  j["bytes"] = file.size();
  j["version"] = fmt::format("{}.{}", layout.version_major, layout.version_minor);
  j["arch"] = {{"name", p.arch.name},
               {"fingerprint", fmt::format("0x{:016x}", p.arch.fingerprint)},
               {"lanes", p.arch.lanes},
               {"lane_bytes", p.arch.lane_bytes},
               {"ddr_bytes", p.arch.ddr_bytes}};
  for (const TpuLayout::Section& s : layout.sections)
    j["sections"].push_back({{"name", section_name(s.kind)}, {"offset", s.offset}, {"bytes", s.size}});
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    nlohmann::json counts = nlohmann::json::object();
    for (const auto& [mn, n] : opcode_counts(p.stream(e))) counts[mn] = n;
    j["streams"][engine_name(e)] = {{"instructions", p.stream(e).size()}, {"opcodes", counts}};
  }
  j["inputs"] = nlohmann::json::array();
  j["outputs"] = nlohmann::json::array();
  j["data"] = nlohmann::json::array();
  j["debug"] = nlohmann::json::array();
  for (const TensorDesc& t : p.inputs) j["inputs"].push_back(tensor_json(t));
  for (const TensorDesc& t : p.outputs) j["outputs"].push_back(tensor_json(t));
  for (const DataBlock& d : p.data) j["data"].push_back({{"addr", d.ddr_addr}, {"bytes", d.bytes.size()}});
  for (const DebugEntry& d : p.debug)
    j["debug"].push_back({{"engine", engine_name(d.engine)}, {"index", d.index}, {"node", d.node}});
  return j;
}

std::string tensor_table(const char* title, const std::vector<TensorDesc>& ts) {
  std::string out = fmt::format("{}: {}\n", title, ts.size());
  if (ts.empty()) return out;
  size_t wn = 4, ws = 5;
  for (const TensorDesc& t : ts)
    wn = std::max(wn, t.name.size()), ws = std::max(ws, shape_text(t.shape).size());
  out += fmt::format("  {:<{}}  {:<{}}  {:<6} {:>14} {:>6}  {}\n", "name", wn, "shape", ws, "dtype", "scale",
                     "zp", "addr");
  for (const TensorDesc& t : ts)
    out += fmt::format("  {:<{}}  {:<{}}  {:<6} {:>14} {:>6}  0x{:x} ({} bytes)\n", t.name, wn,
                       shape_text(t.shape), ws, name(t.dtype), t.scale, t.zero_point, t.ddr_addr, t.bytes());
  return out;
}

std::string info_text(const std::string& path, const std::vector<uint8_t>& file, const TpuLayout& layout,
                      const Program& p) {
  std::string out = fmt::format("file: {} ({} bytes), tpu format {}.{}\n", path, file.size(),
                                layout.version_major, layout.version_minor);
  out += fmt::format("arch: {} (fingerprint 0x{:016x}): {} lanes x {} bytes LMEM, {} bytes DDR\n",
                     p.arch.name, p.arch.fingerprint, p.arch.lanes, p.arch.lane_bytes, p.arch.ddr_bytes);
  out += "sections:\n";
  for (const TpuLayout::Section& s : layout.sections)
    out += fmt::format("  {:<10} offset {:>8}  {:>8} bytes\n", section_name(s.kind), s.offset, s.size);
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    std::vector<std::string> parts;
    for (const auto& [mn, n] : opcode_counts(p.stream(e))) parts.push_back(fmt::format("{} {}", mn, n));
    out += fmt::format("{:<4} stream: {} instructions ({})\n", engine_name(e), p.stream(e).size(),
                       fmt::join(parts, ", "));
  }
  out += tensor_table("inputs", p.inputs);
  out += tensor_table("outputs", p.outputs);
  uint64_t total = 0;
  for (const DataBlock& d : p.data) total += d.bytes.size();
  out += fmt::format("data: {} blocks, {} bytes\n", p.data.size(), total);
  for (const DataBlock& d : p.data)
    out += fmt::format("  0x{:08x} .. 0x{:08x}  {} bytes\n", d.ddr_addr, d.ddr_addr + d.bytes.size(),
                       d.bytes.size());
  // Per node, how many instructions of each stream it produced (the full list is in --json).
  std::map<std::string, std::pair<size_t, size_t>> nodes;
  for (const DebugEntry& d : p.debug)
    ++(d.engine == Engine::Gdma ? nodes[d.node].first : nodes[d.node].second);
  out += fmt::format("debug map: {} entries, {} nodes\n", p.debug.size(), nodes.size());
  for (const auto& [node, n] : nodes) out += fmt::format("  {}: gdma {}, tiu {}\n", node, n.first, n.second);
  return out;
}

}  // namespace

Command add_info(CLI::App& root) {
  struct Opts {
    std::string in;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub =
      root.add_subcommand("info", "Summarise a .tpu program: arch, sections, instructions, I/O, data");
  sub->add_option("input", o->in, "Program (.tpu)")->required();
  sub->add_flag("--json", o->json, "Machine-readable output");
  return {sub, [o] {
            const std::vector<uint8_t> file = read_file_bytes(o->in);
            const Program p = decode_program(file, o->in);
            const TpuLayout layout = read_tpu_layout(file, o->in);
            // Names may hold any bytes: invalid UTF-8 is replaced rather than failing the dump.
            if (o->json)
              write_stdout(info_json(o->in, file, layout, p)
                               .dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                           "\n");
            else
              write_stdout(info_text(o->in, file, layout, p));
          }};
}

}  // namespace tpusim::cli
