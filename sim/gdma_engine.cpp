#include "sim/gdma_engine.h"

#include <fmt/format.h>

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

std::string GdmaEngine::transfer(bool write, uint64_t addr, uint64_t bytes) {
  const uint64_t burst = kBurstBeats * ctrl->context().arch.ddr_bytes_per_cycle;
  tlm::tlm_generic_payload trans;
  FirstBurst first;
  for (uint64_t off = 0; off < bytes; off += burst) {
    const uint64_t len = std::min(burst, bytes - off);
    trans.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    trans.set_address(addr + off);
    trans.set_data_ptr(nullptr);  // timing-only burst, see Ddr::b_transport
    trans.set_data_length(static_cast<unsigned>(len));
    trans.set_streaming_width(static_cast<unsigned>(len));
    trans.set_byte_enable_ptr(nullptr);
    trans.set_dmi_allowed(false);
    trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    if (off == 0) trans.set_extension(&first);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    ddr->b_transport(trans, delay);
    if (off == 0) trans.clear_extension(&first);  // ours, not the payload's to delete
    if (trans.is_response_error())
      return fmt::format("DDR burst [{:#x}, +{}) failed: {}", addr + off, len, trans.get_response_string());
    wait(delay);
  }
  return "";
}

void GdmaEngine::run_one(const Fetched& f) {
  RunContext& ctx = ctrl->context();
  const Instr& in = *f.instr;
  const uint64_t start = ctrl->now();
  std::string err = lmem->begin(Engine::Gdma, in);
  const DmaPhases p = dma_phases(in, ctx.arch);
  wait(cycle_time(p.startup + p.copy_cycles));  // the DDR adds p.latency to the first burst
  if (err.empty() && p.bus_bytes > 0) {
    uint64_t addr = 0;
    for (const Access& x : accesses(in, ctx.geo))
      if (x.space == Space::Ddr) addr = x.lo;
    err = transfer(in.op == Opcode::DmaStore, addr, p.bus_bytes);
  }
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
