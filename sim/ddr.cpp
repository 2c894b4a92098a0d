#include "sim/ddr.h"

#include <algorithm>

namespace tpusim::sim {

Ddr::Ddr(sc_core::sc_module_name name) : sc_core::sc_module(name), target("target") {
  target.register_b_transport(this, &Ddr::b_transport);
  target.register_get_direct_mem_ptr(this, &Ddr::get_direct_mem_ptr);
}

void Ddr::begin_run(uint64_t capacity, uint64_t bytes_per_cycle, uint64_t latency,
                    std::vector<uint8_t>& storage) {
  mem_.swap(storage);
  capacity_ = capacity;
  latency_ = latency;
  t0_ = kernel_cycles();
  bus_.reset(bytes_per_cycle);
}

void Ddr::end_run(std::vector<uint8_t>& storage) { storage.swap(mem_); }

void Ddr::b_transport(int /*initiator*/, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const uint64_t addr = trans.get_address(), len = trans.get_data_length();
  const BurstTrain* train = trans.get_extension<BurstTrain>();
  const uint64_t step = train && train->burst_bytes > 0 ? train->burst_bytes : std::max<uint64_t>(len, 1);
  const uint64_t now = kernel_cycles() - t0_;
  uint64_t at = now + delay.value();  // when the next burst is requested
  for (uint64_t off = 0; off < len; off += step) {
    const uint64_t a = addr + off, n = std::min(step, len - off);
    if (a > capacity_ || n > capacity_ - a) {
      trans.set_address(a);
      trans.set_data_length(static_cast<unsigned>(n));
      trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      delay = cycle_time(at - now);
      return;
    }
    at = bus_.transfer(at + (off == 0 && trans.get_extension<FirstBurst>() ? latency_ : 0), n);
  }
  delay = cycle_time(at - now);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

bool Ddr::get_direct_mem_ptr(int /*initiator*/, tlm::tlm_generic_payload& /*trans*/, tlm::tlm_dmi& dmi) {
  // The whole stored prefix, read-write, no access latency (timing comes from b_transport).
  dmi.set_dmi_ptr(mem_.data());
  dmi.set_start_address(0);
  dmi.set_end_address(mem_.empty() ? 0 : mem_.size() - 1);
  dmi.allow_read_write();
  dmi.set_read_latency(sc_core::SC_ZERO_TIME);
  dmi.set_write_latency(sc_core::SC_ZERO_TIME);
  return !mem_.empty();
}

}  // namespace tpusim::sim
