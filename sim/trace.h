// Timeline outputs written from a timed run's event log (RunResult::events), after the run: the
// SystemC kernel is shared by all runs of a process, so tracing is not wired into it.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "sim/simulator.h"

namespace tpusim::sim {

// Chrome trace event format (chrome://tracing, ui.perfetto.dev): one thread per engine, one
// complete event ("X") per dma/TIU instruction and per sync that waited, an instant for each end.
// Times in microseconds at the architecture's clock; args carry the cycles, the stream index and
// the graph node from the program's debug map.
nlohmann::json chrome_trace(const Program& p, const Arch& a, const RunResult& r);

// VCD waveform (GTKWave): per engine `busy`, `waiting` (1 bit), `opcode` (8 bits, the ISA id) and
// `pc` (32 bits, the stream index). Timescale 1 ps: cycle c is at round(c * 10^6 / clock_mhz).
std::string vcd(const Arch& a, const RunResult& r);

}  // namespace tpusim::sim
