// The DDR data bus as a resource that serialises bursts, first come first served: a burst
// requested at cycle t starts at max(t, when the bus frees) and holds the bus for
// ceil(bytes / bytes_per_cycle) cycles. Concurrent initiators thus share the bandwidth; a lone
// initiator that issues its next burst when the previous one ends never waits. Plain C++ so
// contention between several initiators is testable without elaborating a SystemC model.
#pragma once
#include <algorithm>
#include <cstdint>

namespace tpusim::sim {

class DdrBus {
 public:
  void reset(uint64_t bytes_per_cycle) {
    bytes_per_cycle_ = std::max<uint64_t>(bytes_per_cycle, 1);
    free_at_ = 0;
    busy_ = 0;
    waited_ = 0;
  }
  // Returns the cycle the burst's last beat leaves the bus.
  uint64_t transfer(uint64_t request_cycle, uint64_t bytes) {
    const uint64_t start = std::max(request_cycle, free_at_);
    const uint64_t beats = (bytes + bytes_per_cycle_ - 1) / bytes_per_cycle_;
    waited_ += start - request_cycle;
    busy_ += beats;
    free_at_ = start + beats;
    return free_at_;
  }
  uint64_t busy_cycles() const { return busy_; }
  uint64_t contention_cycles() const { return waited_; }  // cycles bursts waited for the bus

 private:
  uint64_t bytes_per_cycle_ = 1;
  uint64_t free_at_ = 0;
  uint64_t busy_ = 0;
  uint64_t waited_ = 0;
};

}  // namespace tpusim::sim
