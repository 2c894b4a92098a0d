#include "sim/tiu_engine.h"

#include "base/error.h"
#include "sim/sync_state.h"
#include "sim/timing.h"

namespace tpusim::sim {

TiuEngine::TiuEngine(sc_core::sc_module_name name)
    : sc_core::sc_module(name),
      ctrl("ctrl"),
      lmem("lmem"),
      mac_array_("mac_array", TiuUnit::MacArray),
      vector_unit_("vector_unit", TiuUnit::VectorUnit),
      requant_unit_("requant_unit") {
  SC_THREAD(thread);
}

TiuDatapath& TiuEngine::datapath(Opcode op) {
  switch (tiu_unit(op)) {
    case TiuUnit::MacArray: return mac_array_;
    case TiuUnit::VectorUnit: return vector_unit_;
    case TiuUnit::RequantUnit: break;
  }
  return requant_unit_;
}

void TiuEngine::thread() {
  for (;;) {
    wait(ctrl->run_started());
    while (const Fetched f = ctrl->fetch(Engine::Tiu)) run_one(f);
    ctrl->engine_idle(Engine::Tiu);
  }
}

void TiuEngine::run_one(const Fetched& f) {
  RunContext& ctx = ctrl->context();
  const Instr& in = *f.instr;
  const uint64_t start = ctrl->now();
  const InstrFacts& facts = ctrl->facts(in);
  std::string err = lmem->begin(Engine::Tiu, facts.lmem);
  TiuDatapath& unit = datapath(in.op);
  unit.occupy(facts.tiu_cycles, ctx);
  if (&unit != &requant_unit_) requant_unit_.drain(facts.requant_stage, ctx);
  if (err.empty()) {
    try {
      // TIU operands are all in LMEM: the DDR is not visible to it.
      execute(in, MemView{ctx.geo, {}, lmem->bytes()}, ctx.counters);
    } catch (const Error& e) {
      err = e.what();
    }
  }
  lmem->finish(Engine::Tiu);
  if (!err.empty()) return ctrl->fail(describe(Engine::Tiu, f.index, in) + ": " + err);
  ctrl->retire(Engine::Tiu, f.index, start);
}

}  // namespace tpusim::sim
