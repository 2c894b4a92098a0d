// The one place sim/ includes SystemC and TLM-2.0 (the CMake target adds them as system headers and
// pins SC_CPLUSPLUS to the standard libsystemc was built with). One simulated cycle is one kernel
// time unit: the kernel's resolution is set to 1 ns at start-up, and 1 cycle = 1 ns of kernel
// time whatever the architecture's clock (stats convert cycles to real time with clock_mhz).
#pragma once
#include <cstdint>
#include <systemc>
#include <tlm>

namespace tpusim::sim {

inline sc_core::sc_time cycle_time(uint64_t cycles) { return sc_core::sc_time::from_value(cycles); }
// Kernel time in cycles since the process started simulating (runs subtract their start).
inline uint64_t kernel_cycles() { return sc_core::sc_time_stamp().value(); }

}  // namespace tpusim::sim
