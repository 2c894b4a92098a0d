// TiuDatapath: what the TIU's three datapaths share. Each occupies simulated time for the
// instructions it executes (the documented formula of timing.h plus bank-conflict stalls) and
// records its busy cycles in the run's statistics under its unit name.
#pragma once
#include "sim/run_context.h"
#include "sim/systemc_include.h"
#include "sim/timing.h"

namespace tpusim::sim {

class TiuDatapath : public sc_core::sc_module {
 public:
  TiuDatapath(sc_core::sc_module_name name, TiuUnit unit);
  TiuUnit unit() const { return unit_; }
  // Blocks the calling TIU thread for `cycles` (the instruction's tiu_duration()) and counts them
  // as this unit's.
  void occupy(uint64_t cycles, RunContext& ctx);

 protected:
  void count_busy(RunContext& ctx, uint64_t cycles) const;

 private:
  TiuUnit unit_;
};

}  // namespace tpusim::sim
