#include "sim/gdma_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "base/error.h"
#include "sim/sync_state.h"
#include "sim/timing.h"

namespace tpusim::sim {

GdmaEngine::GdmaEngine(sc_core::sc_module_name name)
    : sc_core::sc_module(name), ctrl("ctrl"), lmem("lmem"), ddr("ddr") {
  SC_THREAD(thread);
}

void GdmaEngine::thread() {
  for (;;) {
    wait(ctrl->run_started());
    while (const Fetched f = ctrl->fetch(Engine::Gdma)) run_one(f);
    ctrl->engine_idle(Engine::Gdma);
  }
}

std::span<uint8_t> GdmaEngine::ddr_bytes() {
  tlm::tlm_generic_payload trans;
  trans.set_address(0);
  tlm::tlm_dmi dmi;
  if (!ddr->get_direct_mem_ptr(trans, dmi)) return {};
  return {dmi.get_dmi_ptr(), static_cast<size_t>(dmi.get_end_address() - dmi.get_start_address() + 1)};
}

// The bursts go out as one BurstTrain payload (interfaces.h) after the `lead` time (the engine's
// start-up), with one wait at the end: the DDR requests each burst when the previous one left the
// bus (the first one: after the lead), exactly where a wait before every burst would have put it.
// Only this engine drives the DDR bus, so the bus sees the same requests at the same cycles and
// the transfer ends at the same cycle, for one call and one SystemC context switch instead of one
// of each per KiB. (A train's length is a TLM `unsigned`: longer transfers take several.)
std::string GdmaEngine::transfer(bool write, uint64_t addr, uint64_t bytes, sc_core::sc_time lead) {
  const uint64_t burst = kBurstBeats * ctrl->context().arch.ddr_bytes_per_cycle;
  const uint64_t most = UINT32_MAX / burst * burst;
  tlm::tlm_generic_payload trans;
  FirstBurst first;
  BurstTrain train;
  train.burst_bytes = burst;
  sc_core::sc_time delay = lead;
  trans.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  trans.set_data_ptr(nullptr);  // timing-only bursts, see Ddr::b_transport
  trans.set_byte_enable_ptr(nullptr);
  trans.set_dmi_allowed(false);
  trans.set_extension(&train);
  for (uint64_t off = 0; off < bytes; off += most) {
    const uint64_t len = std::min(most, bytes - off);
    trans.set_address(addr + off);
    trans.set_data_length(static_cast<unsigned>(len));
    trans.set_streaming_width(static_cast<unsigned>(len));
    trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    if (off == 0) trans.set_extension(&first);
    ddr->b_transport(trans, delay);
    if (off == 0) trans.clear_extension(&first);  // ours, not the payload's to delete
    if (trans.is_response_error()) {
      trans.clear_extension(&train);
      wait(delay);  // the bursts before it took their time
      return fmt::format("DDR burst [{:#x}, +{}) failed: {}", trans.get_address(), trans.get_data_length(),
                         trans.get_response_string());
    }
  }
  trans.clear_extension(&train);
  wait(delay);
  return "";
}

void GdmaEngine::run_one(const Fetched& f) {
  RunContext& ctx = ctrl->context();
  const Instr& in = *f.instr;
  const uint64_t start = ctrl->now();
  const InstrFacts& facts = ctrl->facts(in);
  std::string err = lmem->begin(Engine::Gdma, facts.lmem);
  const DmaPhases& p = facts.dma;
  const sc_core::sc_time lead =
      cycle_time(p.startup + p.copy_cycles);  // the DDR adds p.latency to the first burst
  if (err.empty() && p.bus_bytes > 0)
    err = transfer(in.op == Opcode::DmaStore, facts.ddr_lo, p.bus_bytes, lead);  // waits the lead too
  else
    wait(lead);
  if (err.empty()) {
    try {
      execute(in, MemView{ctx.geo, ddr_bytes(), lmem->bytes()}, ctx.counters);
    } catch (const Error& e) {
      err = e.what();
    }
  }
  lmem->finish(Engine::Gdma);
  if (!err.empty()) return ctrl->fail(describe(Engine::Gdma, f.index, in) + ": " + err);
  ctrl->retire(Engine::Gdma, f.index, start);
}

}  // namespace tpusim::sim
