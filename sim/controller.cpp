#include "sim/controller.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"

namespace tpusim::sim {

Controller::Controller(sc_core::sc_module_name name) : sc_core::sc_module(name) {}

void Controller::begin_run(RunContext& ctx) {
  ctx_ = &ctx;
  facts_.begin_run(ctx.arch);
  sync_.emplace(ctx.prog);
  t0_ = kernel_cycles();
  end_cycle_ = 0;
  aborted_ = false;
  error_.clear();
  idle_ = {false, false};
  start_ev_.notify(sc_core::SC_ZERO_TIME);
}

void Controller::fail(const std::string& reason) {
  if (aborted_) return;  // the first failure is the one reported
  aborted_ = true;
  error_ = reason + "\n" + sync_->dump();
  abort_ev_.notify(sc_core::SC_ZERO_TIME);  // delta: also legal from outside the kernel
}

bool Controller::check_deadlock() {
  const std::string why = sync_->deadlock();
  if (!why.empty()) fail(why);
  return !why.empty();
}

Fetched Controller::fetch(Engine e) {
  const int ei = static_cast<int>(e);
  uint64_t arrival = now();  // when the current sync was reached
  for (;;) {
    if (aborted_) return {};
    const uint32_t pc = sync_->pc(e);
    if (now() > ctx_->opt.max_cycles) {
      fail(fmt::format("watchdog: simulated time {} cycles passed max_cycles={} at {}", now(),
                       ctx_->opt.max_cycles, describe(e, pc, sync_->current(e))));
      return {};
    }
    Step step;
    try {
      step = sync_->step(e);
    } catch (const Error& err) {
      fail(err.what());
      return {};
    }
    switch (step) {
      case Step::Execute: return Fetched{&sync_->current(e), pc};
      case Step::SyncDone:
        ctx_->complete(e, pc, Opcode::Sync, arrival, now());
        progress_ev_[ei].notify();
        arrival = now();
        continue;
      case Step::Ended:
        ctx_->complete(e, pc, Opcode::End, now(), now());
        end_cycle_ = std::max(end_cycle_, now());
        progress_ev_[ei].notify();
        check_deadlock();  // the other engine may wait for a count this one never reaches
        return {};
      case Step::Blocked:
        if (check_deadlock()) return {};
        sc_core::wait(progress_ev_[1 - ei] | abort_ev_);
        continue;
      case Step::Finished: return {};
    }
  }
}

void Controller::retire(Engine e, uint32_t index, uint64_t start) {
  const Opcode op = sync_->current(e).op;
  sync_->retire(e);
  ctx_->complete(e, index, op, start, now());
  progress_ev_[static_cast<int>(e)].notify();
}

}  // namespace tpusim::sim
