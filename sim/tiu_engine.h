// TiuEngine: executes the TIU stream on its three datapaths — the MAC array (conv2d, matmul), the
// vector unit (pool, eltwise) and the requant unit (requant, plus the pipelined output stage of
// every other TIU instruction). One instruction at a time: it occupies its datapath for
// tiu_duration() cycles; the effect (execute()) is applied when the instruction ends.
#pragma once
#include "sim/interfaces.h"
#include "sim/requant_unit.h"
#include "sim/tiu_datapath.h"

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
  TiuDatapath& datapath(Opcode op);

  TiuDatapath mac_array_;
  TiuDatapath vector_unit_;
  RequantUnit requant_unit_;
};

}  // namespace tpusim::sim
