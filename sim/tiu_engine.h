// TiuEngine: executes the TIU stream. At instruction level the MAC array (conv2d, matmul), the
// vector unit (pool, eltwise) and the requant unit (requant; and the output stage of every other
// instruction, pipelined behind them) are not separate modules: one instruction occupies the
// whole TIU for tiu_duration() cycles (timing.h names the unit). The effect (execute()) is
// applied when the instruction ends.
#pragma once
#include "sim/interfaces.h"

namespace tpusim::sim {

class TiuEngine : public sc_core::sc_module {
 public:
  sc_core::sc_port<ControllerIf> ctrl;
  sc_core::sc_port<LmemIf> lmem;

  SC_HAS_PROCESS(TiuEngine);
  explicit TiuEngine(sc_core::sc_module_name name);

 private:
  void thread();
  void run_one(const Fetched& f);
};

}  // namespace tpusim::sim
