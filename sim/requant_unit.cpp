#include "sim/requant_unit.h"

namespace tpusim::sim {

RequantUnit::RequantUnit(sc_core::sc_module_name name) : TiuDatapath(name, TiuUnit::RequantUnit) {}

void RequantUnit::drain(const Instr& in, RunContext& ctx) {
  count_busy(ctx, requant_stage_cycles(in, ctx.arch));
}

}  // namespace tpusim::sim
