#include "sim/requant_unit.h"

namespace tpusim::sim {

RequantUnit::RequantUnit(sc_core::sc_module_name name) : TiuDatapath(name, TiuUnit::RequantUnit) {}

void RequantUnit::drain(uint64_t cycles, RunContext& ctx) { count_busy(ctx, cycles); }

}  // namespace tpusim::sim
