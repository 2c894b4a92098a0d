// Ddr: the global memory. Its bytes (a prefix of the architecture's DDR, see DeviceMemory) are
// lent to initiators by DMI for the functional effect of their instructions; their timing is
// b_transport bursts with annotated delay over the shared DdrBus. The first burst of a transfer
// carries a FirstBurst extension and pays the DDR access latency before its bus slot (the
// latency does not occupy the bus). The target socket is a multi-passthrough socket, so more
// initiators than the one GDMA can bind.
#pragma once
#include <tlm_utils/multi_passthrough_target_socket.h>

#include <cstdint>
#include <vector>

#include "sim/ddr_bus.h"
#include "sim/interfaces.h"
#include "sim/systemc_include.h"

namespace tpusim::sim {

class Ddr : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<Ddr> target;

  explicit Ddr(sc_core::sc_module_name name);

  // Outside the simulation: take `storage` for the run (swapped, not copied) / give it back.
  void begin_run(uint64_t capacity, uint64_t bytes_per_cycle, uint64_t latency,
                 std::vector<uint8_t>& storage);
  void end_run(std::vector<uint8_t>& storage);
  const DdrBus& bus() const { return bus_; }

 private:
  // Timing-only bursts: address and length are checked against the capacity and the bus is
  // reserved; the payload's data pointer is not used (bytes move through DMI in execute()).
  void b_transport(int initiator, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(int initiator, tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);

  std::vector<uint8_t> mem_;
  uint64_t capacity_ = 0;
  uint64_t latency_ = 0;
  uint64_t t0_ = 0;
  DdrBus bus_;
};

}  // namespace tpusim::sim
