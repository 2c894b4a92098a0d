#include "sim/trace.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

namespace tpusim::sim {

nlohmann::json chrome_trace(const Program& p, const Arch& a, const RunResult& r) {
  const double us_per_cycle = a.clock_mhz > 0 ? 1.0 / a.clock_mhz : 1.0;
  nlohmann::json events = nlohmann::json::array();
  for (Engine e : {Engine::Gdma, Engine::Tiu})
    events.push_back({{"ph", "M"},
                      {"name", "thread_name"},
                      {"pid", 1},
                      {"tid", int(e)},
                      {"args", {{"name", engine_name(e)}}}});
  for (const Event& ev : r.events) {
    const bool is_sync = ev.op == Opcode::Sync;
    if (is_sync && ev.end == ev.start) continue;  // released at once: nothing to see
    nlohmann::json args = {{"index", ev.index}, {"start_cycle", ev.start}, {"end_cycle", ev.end}};
    // A slice is named by its mnemonic and, when the debug map has one, its source node.
    std::string name = is_sync ? "sync (waiting)" : spec(ev.op).mnemonic;
    if (const std::string node = p.node_of(ev.engine, ev.index); !node.empty()) {
      args["node"] = node;
      name += " " + node;
    }
    nlohmann::json j = {{"name", name},
                        {"cat", is_sync ? "wait" : engine_name(ev.engine)},
                        {"pid", 1},
                        {"tid", int(ev.engine)},
                        {"ts", double(ev.start) * us_per_cycle},
                        {"args", args}};
    if (ev.op == Opcode::End) {
      j["ph"] = "i";
      j["s"] = "t";
    } else {
      j["ph"] = "X";
      j["dur"] = double(ev.end - ev.start) * us_per_cycle;
    }
    events.push_back(std::move(j));
  }
  return {
      {"traceEvents", events},
      {"displayTimeUnit", "ns"},
      {"otherData", {{"arch", a.name}, {"clock_mhz", a.clock_mhz}, {"total_cycles", r.stats.total_cycles}}}};
}

namespace {

struct Signals {
  int busy = 0, waiting = 0, opcode = 0;
  uint32_t pc = 0;
};

std::string bin(uint64_t v, int width) {
  std::string s(width, '0');
  for (int i = 0; i < width; ++i) s[width - 1 - i] = (v >> i) & 1 ? '1' : '0';
  return s;
}

}  // namespace

std::string vcd(const Arch& a, const RunResult& r) {
  // Identifier codes: engine e uses letter e*4 + {busy, waiting, opcode, pc} from 'a'.
  auto id = [](int engine, int sig) { return std::string(1, char('a' + engine * 4 + sig)); };
  // Picosecond units: wave viewers show real time at any clock (a VCD timescale must be 1, 10 or
  // 100 of a unit, so the clock period itself, e.g. 2 ns at 500 MHz, cannot be the unit).
  const auto ps = [&](uint64_t cycle) {
    return static_cast<uint64_t>(std::llround(static_cast<double>(cycle) * 1e6 / a.clock_mhz));
  };
  std::string out = fmt::format(
      "$version tpusim $end\n$comment arch {} at {} MHz: one cycle is {} ps $end\n"
      "$timescale 1ps $end\n$scope module tpusim $end\n",
      a.name, a.clock_mhz, 1e6 / a.clock_mhz);
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    const int ei = int(e);
    out += fmt::format("$scope module {} $end\n", engine_name(e));
    out += fmt::format("$var wire 1 {} busy $end\n$var wire 1 {} waiting $end\n", id(ei, 0), id(ei, 1));
    out += fmt::format("$var wire 8 {} opcode $end\n$var wire 32 {} pc $end\n$upscope $end\n", id(ei, 2),
                       id(ei, 3));
  }
  out += "$upscope $end\n$enddefinitions $end\n";
  // State of each engine from each event's start; a later event at the same cycle wins (zero-length
  // syncs and ends), and each stream's end leaves the engine idle.
  std::map<uint64_t, std::map<int, Signals>> changes;
  for (const Event& ev : r.events) {
    const bool work = ev.op != Opcode::Sync && ev.op != Opcode::End;
    const bool waits = ev.op == Opcode::Sync && ev.end > ev.start;
    changes[ev.start][int(ev.engine)] = Signals{work, waits, int(ev.op), ev.index};
  }
  std::array<Signals, 2> cur{};
  bool first = true;
  for (const auto& [t, per_engine] : changes) {
    std::string body;
    for (const auto& [ei, s] : per_engine) {
      if (first || s.busy != cur[ei].busy) body += fmt::format("{}{}\n", s.busy, id(ei, 0));
      if (first || s.waiting != cur[ei].waiting) body += fmt::format("{}{}\n", s.waiting, id(ei, 1));
      if (first || s.opcode != cur[ei].opcode) body += fmt::format("b{} {}\n", bin(s.opcode, 8), id(ei, 2));
      if (first || s.pc != cur[ei].pc) body += fmt::format("b{} {}\n", bin(s.pc, 32), id(ei, 3));
      cur[ei] = s;
    }
    if (first && per_engine.size() < 2) {  // an engine with no event at 0 still needs initial values
      for (int ei = 0; ei < 2; ++ei)
        if (!per_engine.count(ei))
          body += fmt::format("0{}\n0{}\nb{} {}\nb{} {}\n", id(ei, 0), id(ei, 1), bin(0, 8), id(ei, 2),
                              bin(0, 32), id(ei, 3));
    }
    if (!body.empty()) out += fmt::format("#{}\n", ps(t)) + (first ? "$dumpvars\n" + body + "$end\n" : body);
    first = false;
  }
  if (changes.empty() || changes.rbegin()->first < r.stats.total_cycles)
    out += fmt::format("#{}\n", ps(r.stats.total_cycles));  // the waveform lasts the whole run
  return out;
}

}  // namespace tpusim::sim
