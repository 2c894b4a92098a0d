// The interfaces the engines are bound to (Top binds the ports): the controller that owns the
// instruction streams and the sync counters, and the LMEM; and the DDR's TLM-2.0 burst extension.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "sim/instr_facts.h"
#include "sim/run_context.h"
#include "sim/systemc_include.h"

namespace tpusim::sim {

struct Fetched {
  const Instr* instr = nullptr;  // nullptr: the stream ended or the run was aborted
  uint32_t index = 0;
  explicit operator bool() const { return instr != nullptr; }
};

class ControllerIf : public virtual sc_core::sc_interface {
 public:
  virtual const sc_core::sc_event& run_started() const = 0;
  virtual RunContext& context() = 0;
  virtual uint64_t now() const = 0;  // cycles since the run started
  // Next dma/TIU instruction of `e`'s stream. Interprets sync (blocking the calling thread until
  // the other engine's count is reached) and end on the way.
  virtual Fetched fetch(Engine e) = 0;
  // The fetched instruction completed now, having started at `start`; its effect is applied.
  virtual void retire(Engine e, uint32_t index, uint64_t start) = 0;
  // What the timing derives from the instruction alone, computed once per distinct instruction.
  virtual const InstrFacts& facts(const Instr& in) = 0;
  // Abort the run; run() throws Error(reason + state dump).
  virtual void fail(const std::string& reason) = 0;
  // The engine's thread returned to idle (between runs).
  virtual void engine_idle(Engine e) = 0;
};

// DDR protocol: bursts are timing-only TLM transactions (the data pointer is unused; bytes move
// through DMI in execute()). The burst that opens a transfer carries FirstBurst, on which the
// DDR charges its access latency; the initiator sets it on its payload and clears it after.
struct FirstBurst : tlm::tlm_extension<FirstBurst> {
  tlm::tlm_extension_base* clone() const override { return new FirstBurst(*this); }
  void copy_from(const tlm::tlm_extension_base&) override {}
};
// A payload carrying BurstTrain stands for consecutive bursts of `burst_bytes` (the last one
// shorter) over its address range, each requested when the previous one leaves the bus: what the
// initiator would get from one b_transport per burst with the returned delay passed on, in one
// call (the DDR is the hot path of timed mode). On an address error the payload's address and
// length are those of the failing burst, and the delay that of the bursts before it.
struct BurstTrain : tlm::tlm_extension<BurstTrain> {
  uint64_t burst_bytes = 0;
  tlm::tlm_extension_base* clone() const override { return new BurstTrain(*this); }
  void copy_from(const tlm::tlm_extension_base& e) override {
    burst_bytes = static_cast<const BurstTrain&>(e).burst_bytes;
  }
};

class LmemIf : public virtual sc_core::sc_interface {
 public:
  virtual std::span<uint8_t> bytes() = 0;
  // An instruction of `e` starts/stops using its LMEM footprint (lmem_accesses(), which must
  // outlive the instruction); begin returns "" or why the footprint is outside LMEM. finish
  // counts GDMA/TIU overlaps on a bank.
  virtual std::string begin(Engine e, const std::vector<Access>& footprint) = 0;
  virtual void finish(Engine e) = 0;
};

}  // namespace tpusim::sim
