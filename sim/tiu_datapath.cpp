#include "sim/tiu_datapath.h"

namespace tpusim::sim {

TiuDatapath::TiuDatapath(sc_core::sc_module_name name, TiuUnit unit)
    : sc_core::sc_module(name), unit_(unit) {}

void TiuDatapath::occupy(uint64_t cycles, RunContext& ctx) {
  sc_core::wait(cycle_time(cycles));
  count_busy(ctx, cycles);
}

void TiuDatapath::count_busy(RunContext& ctx, uint64_t cycles) const {
  ctx.stats.tiu_unit_busy[tiu_unit_name(unit_)] += cycles;
}

}  // namespace tpusim::sim
