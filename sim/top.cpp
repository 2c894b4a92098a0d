#include "sim/top.h"

namespace tpusim::sim {

Top::Top(sc_core::sc_module_name name)
    : sc_core::sc_module(name), controller("controller"), gdma("gdma"), tiu("tiu"), lmem("lmem"), ddr("ddr") {
  gdma.ctrl(controller);
  gdma.lmem(lmem);
  gdma.ddr.bind(ddr.target);
  tiu.ctrl(controller);
  tiu.lmem(lmem);
}

}  // namespace tpusim::sim
