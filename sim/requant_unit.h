// RequantUnit: the TIU's output stage. It runs a standalone `requant` instruction like any
// datapath, and it also requantizes the output of every conv2d, matmul, pool and eltwise
// pipelined behind the MAC array or vector unit: that work counts as its busy time
// (requant_stage_cycles) without lengthening the instruction.
#pragma once
#include "sim/tiu_datapath.h"

namespace tpusim::sim {

class RequantUnit : public TiuDatapath {
 public:
  explicit RequantUnit(sc_core::sc_module_name name);
  // The pipelined output stage of an instruction executed by another datapath: its
  // requant_stage_cycles(), counted busy.
  void drain(uint64_t cycles, RunContext& ctx);
};

}  // namespace tpusim::sim
