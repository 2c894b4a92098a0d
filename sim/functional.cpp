// The functional (untimed) twin of the SystemC model: the same SyncState, the same execute(), no
// time. One engine runs until it blocks or ends, then the other; for a program whose cross-engine
// dependencies are all synchronised this yields exactly the timed model's memory contents.
#include <fmt/format.h>

#include "base/error.h"
#include "sim/run_context.h"
#include "sim/sync_state.h"

namespace tpusim::sim {

void run_functional(RunContext& ctx, DeviceMemory& mem) {
  SyncState sync(ctx.prog);
  const MemView view{ctx.geo, mem.ddr, mem.lmem};
  Engine cur = Engine::Gdma;
  for (;;) {
    const uint32_t pc = sync.pc(cur);
    const Step step = sync.step(cur);
    if (step == Step::Execute) {
      const Instr& in = sync.current(cur);
      try {
        execute(in, view, ctx.counters);
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", describe(cur, pc, in), e.what()));
      }
      sync.retire(cur);
      ctx.complete(cur, pc, in.op, 0, 0);
      continue;
    }
    if (step == Step::SyncDone) {
      ctx.complete(cur, pc, Opcode::Sync, 0, 0);
      continue;
    }
    if (step == Step::Ended) ctx.complete(cur, pc, Opcode::End, 0, 0);
    if (sync.both_ended()) break;
    // Blocked or ended: the other engine must be able to move, else no one ever will.
    if (const std::string why = sync.deadlock(); !why.empty()) throw Error(why + "\n" + sync.dump());
    cur = other(cur);
  }
  ctx.finish(0);
}

}  // namespace tpusim::sim
