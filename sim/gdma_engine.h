// GdmaEngine: executes the GDMA stream. Each dma instruction pays gdma_startup, then for
// load/store moves its bytes as bursts over the DDR (TLM b_transport, one burst outstanding, the
// next issued when the previous leaves the bus; the DDR charges its latency on the first), for
// copy the LMEM-to-LMEM copy time. Its effect (execute(), over the DDR's DMI bytes) is applied when the
// instruction ends.
#pragma once
#include <tlm_utils/simple_initiator_socket.h>

#include "sim/interfaces.h"

namespace tpusim::sim {

class GdmaEngine : public sc_core::sc_module {
 public:
  sc_core::sc_port<ControllerIf> ctrl;
  sc_core::sc_port<LmemIf> lmem;
  tlm_utils::simple_initiator_socket<GdmaEngine> ddr;

  SC_HAS_PROCESS(GdmaEngine);
  explicit GdmaEngine(sc_core::sc_module_name name);

 private:
  void thread();
  void run_one(const Fetched& f);
  // Moves `bytes` from/to DDR address `addr` as bursts; "" or the bus error.
  std::string transfer(bool write, uint64_t addr, uint64_t bytes, sc_core::sc_time lead);
  std::span<uint8_t> ddr_bytes();
};

}  // namespace tpusim::sim
