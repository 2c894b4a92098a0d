// Controller: holds the two instruction streams and the sync counters (SyncState), feeds each
// engine its stream in order, blocks an engine in `sync count=N` until the other engine has
// completed N instructions, detects the end (both streams retired end), deadlock (SyncState) and
// the watchdog (simulated time beyond RunOptions::max_cycles, checked between instructions).
#pragma once
#include <array>
#include <optional>
#include <string>

#include "sim/interfaces.h"
#include "sim/sync_state.h"

namespace tpusim::sim {

class Controller : public sc_core::sc_module, public ControllerIf {
 public:
  explicit Controller(sc_core::sc_module_name name);

  // Outside the simulation, before sc_start(): arm a run (engines start at the next delta).
  void begin_run(RunContext& ctx);
  bool finished() const { return sync_ && sync_->both_ended(); }
  bool engines_idle() const { return idle_[0] && idle_[1]; }
  const std::string& error() const { return error_; }
  uint64_t end_cycle() const { return end_cycle_; }

  const sc_core::sc_event& run_started() const override { return start_ev_; }
  RunContext& context() override { return *ctx_; }
  uint64_t now() const override { return kernel_cycles() - t0_; }
  Fetched fetch(Engine e) override;
  void retire(Engine e, uint32_t index, uint64_t start) override;
  void fail(const std::string& reason) override;
  const InstrFacts& facts(const Instr& in) override { return facts_.get(in); }
  void engine_idle(Engine e) override { idle_[static_cast<int>(e)] = true; }

 private:
  bool check_deadlock();  // fails the run and returns true on deadlock

  RunContext* ctx_ = nullptr;
  InstrFactsCache facts_;  // kept across runs
  std::optional<SyncState> sync_;
  uint64_t t0_ = 0;
  uint64_t end_cycle_ = 0;
  bool aborted_ = false;
  std::string error_;
  std::array<bool, 2> idle_{true, true};
  sc_core::sc_event start_ev_, abort_ev_;
  std::array<sc_core::sc_event, 2> progress_ev_;  // an engine completed an instruction
};

}  // namespace tpusim::sim
