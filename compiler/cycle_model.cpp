#include "compiler/cycle_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "base/error.h"
#include "sim/timing.h"

namespace tpusim::compiler {

ReplayCycles replay_cycles(const std::vector<Instr>& tiu, const std::vector<Instr>& gdma, const Arch& a) {
  const std::array<const std::vector<Instr>*, 2> code{&tiu, &gdma};
  std::array<size_t, 2> pc{0, 0};
  std::array<uint64_t, 2> now{0, 0}, busy{0, 0};
  std::array<std::vector<uint64_t>, 2> done;  // completion cycle of each instruction, in order
  for (auto& d : done) d.reserve(64);
  bool progress = true;
  while (progress) {
    progress = false;
    for (size_t e = 0; e < 2; ++e) {
      const size_t other = 1 - e;
      while (pc[e] < code[e]->size()) {
        const Instr& in = (*code[e])[pc[e]];
        uint64_t start = now[e], dur = 0;
        if (in.op == Opcode::Sync) {
          const auto need = static_cast<uint64_t>(ops::Sync::from(in).count);
          if (need > done[other].size()) break;  // blocked until the other engine catches up
          if (need > 0) start = std::max(start, done[other][need - 1]);
        } else if (in.op != Opcode::End) {
          dur = e == 0 ? sim::tiu_duration(in, a) : sim::cycles(in, a);
        }
        now[e] = start + dur, busy[e] += dur;
        done[e].push_back(now[e]);
        ++pc[e], progress = true;
        if (in.op == Opcode::End) pc[e] = code[e]->size();  // the engine stops here
      }
    }
  }
  for (size_t e = 0; e < 2; ++e)
    if (pc[e] < code[e]->size())
      throw Error(fmt::format("cycle model: {} instruction {} waits for a sync that is never released",
                              e == 0 ? "tiu" : "gdma", pc[e]));
  return {std::max(now[0], now[1]), busy[0], busy[1]};
}

}  // namespace tpusim::compiler
