#include "sim/sync_state.h"

#include <fmt/format.h>

#include "base/error.h"

namespace tpusim::sim {

std::string describe(Engine e, uint32_t index, const Instr& in) {
  if (in.op == Opcode::Sync)
    return fmt::format("{} instruction {} (sync count={})", engine_name(e), index, ops::Sync::from(in).count);
  return fmt::format("{} instruction {} ({})", engine_name(e), index, spec(in.op).mnemonic);
}

SyncState::SyncState(const Program& p) {
  lane(Engine::Gdma).code = &p.gdma;
  lane(Engine::Tiu).code = &p.tiu;
}

Step SyncState::step(Engine e) {
  Lane& l = lane(e);
  if (l.ended) return Step::Finished;
  if (l.pc >= l.code->size())
    throw Error(fmt::format("{} stream runs past its last instruction ({}) without end", engine_name(e),
                            l.code->size()));
  const Instr& in = (*l.code)[l.pc];
  if (in.op == Opcode::End) {
    l.blocked = false;
    l.ended = true;
    ++l.completed;
    return Step::Ended;
  }
  if (in.op == Opcode::Sync) {
    l.need = static_cast<uint64_t>(ops::Sync::from(in).count);
    l.blocked = lane(other(e)).completed < l.need;
    if (l.blocked) return Step::Blocked;
    ++l.pc;
    ++l.completed;
    return Step::SyncDone;
  }
  l.blocked = false;
  return Step::Execute;
}

void SyncState::retire(Engine e) {
  ++lane(e).pc;
  ++lane(e).completed;
}

bool SyncState::stuck(Engine e) const {
  const Lane& l = lane(e);
  const Lane& o = lane(other(e));
  if (!l.blocked || o.completed >= l.need) return false;
  if (o.ended) return true;
  return o.blocked && lane(e).completed < o.need;
}

std::string SyncState::deadlock() const {
  std::string why;
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    if (!stuck(e)) continue;
    const Lane& l = lane(e);
    const Engine oe = other(e);
    const Lane& o = lane(oe);
    if (!why.empty()) why += "; ";
    why += fmt::format("{} waits for {} to complete {} instructions, but {} {} {}",
                       describe(e, l.pc, current(e)), engine_name(oe), l.need, engine_name(oe),
                       o.ended ? "ended after" : "is itself blocked having completed", o.completed);
  }
  return why.empty() ? why : "deadlock: " + why;
}

std::string SyncState::dump() const {
  std::string out = "engine state:";
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    const Lane& l = lane(e);
    std::string what = "running";
    if (l.ended)
      what = "ended";
    else if (l.blocked)
      what = fmt::format("blocked, waiting for {} completed >= {}", engine_name(other(e)), l.need);
    const std::string at = l.pc < l.code->size() ? describe(e, l.pc, (*l.code)[l.pc])
                                                 : fmt::format("{} pc {}", engine_name(e), l.pc);
    out += fmt::format("\n  {}: pc={} completed={} {}; at {}", engine_name(e), l.pc, l.completed, what, at);
  }
  return out;
}

}  // namespace tpusim::sim
