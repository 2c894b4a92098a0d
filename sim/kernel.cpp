// The SystemC kernel of the process (docs/sim.md, "One SystemC kernel, many runs"): SystemC 2.3
// elaborates once per process and cannot restart after sc_stop(), so the model is elaborated once,
// on the first timed run, and reused. A run arms the Controller, lends the memories to Lmem/Ddr,
// and calls sc_start(), which returns when the engines have parked again and no event is pending
// (starvation; sc_stop() is never called). Kernel time keeps growing; runs measure from their start.
//
// Every SystemC call happens on one dedicated thread: the kernel's coroutines always switch
// against the same native stack whatever thread calls run(), and callers' stacks never see a
// coroutine switch (AddressSanitizer loses track of a stack that switched, and then misreports
// the next exception thrown on it). Nothing throws on that thread: outcomes come back as strings.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "sim/run_context.h"
#include "sim/top.h"

// libsystemc.so defines main() and references sc_main; tpusim drives the kernel itself, so this
// empty definition only satisfies the linker and is never called.
int sc_main(int, char*[]) { return 1; }

namespace tpusim::sim {

namespace {

// Runs jobs on the kernel thread, one at a time; the caller waits for each. The hand-over is two
// counters with C++20 atomic wait/notify (futexes, after a short spin) rather than a mutex and a
// condition variable: the caller's notify no longer wakes a thread that must then block on the
// mutex the caller still holds, which cost an extra context switch per run (a batch runs one
// image per hand-over).
class KernelThread {
 public:
  static KernelThread& get() {
    static KernelThread* k = new KernelThread;  // never destroyed: the thread parks until exit
    return *k;
  }
  // One caller at a time (run_timed holds g_run_mutex).
  void call(const std::function<void()>& job) {
    job_ = &job;
    const uint32_t done = done_.load(std::memory_order_relaxed);
    requested_.fetch_add(1, std::memory_order_release);
    requested_.notify_one();
    done_.wait(done, std::memory_order_acquire);  // returns once the job has bumped done_
  }

 private:
  KernelThread() {
    std::thread([this] { loop(); }).detach();
  }
  void loop() {
    for (uint32_t seen = 0;; ++seen) {
      requested_.wait(seen, std::memory_order_acquire);  // returns once requested_ != seen
      (*job_)();
      done_.fetch_add(1, std::memory_order_release);
      done_.notify_one();
    }
  }
  const std::function<void()>* job_ = nullptr;  // written before requested_, read after it
  std::atomic<uint32_t> requested_{0}, done_{0};
};

Top* g_top = nullptr;  // lives as long as the process, like the kernel that owns its processes

// On the kernel thread: "" or why the kernel could not start.
std::string start_kernel() {
  if (g_top) return "";
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);  // keep stdout for the CLI's own output
  try {
    sc_core::sc_set_time_resolution(1, sc_core::SC_NS);  // one kernel time unit = one cycle
    g_top = new Top("tpusim");
    sc_core::sc_start(sc_core::SC_ZERO_TIME);  // elaborate; the engine threads park
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// On the kernel thread: sc_start() until starvation; "" or what the kernel threw.
std::string simulate() {
  try {
    sc_core::sc_start();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

struct Outcome {
  std::string internal;  // the kernel failed: it is unusable from now on
  std::string error;     // the run failed (deadlock, watchdog, instruction): report it
  bool finished = false;
  uint64_t end_cycle = 0;
};

// On the kernel thread: one run, start to finish.
Outcome simulate_run(RunContext& ctx, DeviceMemory& mem) {
  Outcome out;
  if (std::string why = start_kernel(); !why.empty()) {
    out.internal = "cannot start the SystemC kernel: " + why;
    return out;
  }
  Top& top = *g_top;
  top.lmem.begin_run(ctx, mem.lmem);
  top.ddr.begin_run(ctx.arch.ddr_bytes, ctx.arch.ddr_bytes_per_cycle, ctx.arch.ddr_latency, mem.ddr);
  top.controller.begin_run(ctx);
  out.internal = simulate();
  if (out.internal.empty() && !top.controller.engines_idle()) {
    // Starved with an engine still waiting: a deadlock the controller missed. Abort and drain.
    top.controller.fail("simulation stalled with no pending activity");
    out.internal = simulate();
  }
  top.lmem.end_run(mem.lmem);
  top.ddr.end_run(mem.ddr);
  if (out.internal.empty() && !top.controller.engines_idle()) out.internal = "engines did not return to idle";
  ctx.stats.gdma_tiu_bank_overlaps = top.lmem.bank_overlaps();
  ctx.stats.lmem_hazards = top.lmem.hazards();
  ctx.stats.ddr_bus_busy_cycles = top.ddr.bus().busy_cycles();
  out.error = top.controller.error();
  out.finished = top.controller.finished();
  out.end_cycle = top.controller.end_cycle();
  return out;
}

std::mutex g_run_mutex;  // one timed run at a time: one kernel per process
bool g_broken = false;

// Under AddressSanitizer every SystemC call goes to the kernel thread (see the top of this file).
// Elsewhere the run executes on the caller's thread, under g_run_mutex: SystemC's coroutine
// package saves the native stack it switches from at every switch, so consecutive sc_start()
// calls may come from different threads, and a batch saves two thread hand-overs per run (the
// largest cost of timed mode over functional on a small network: docs/performance.md).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kKernelThread = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kKernelThread = true;
#else
constexpr bool kKernelThread = false;
#endif
#else
constexpr bool kKernelThread = false;
#endif

}  // namespace

void run_timed(RunContext& ctx, DeviceMemory& mem) {
  std::lock_guard lock(g_run_mutex);
  if (g_broken) throw Error("the SystemC kernel is unusable after an earlier internal failure");
  Outcome out;
  if (kKernelThread)
    KernelThread::get().call([&] { out = simulate_run(ctx, mem); });
  else
    out = simulate_run(ctx, mem);
  if (!out.internal.empty()) {
    g_broken = true;
    throw Error("internal simulator failure: " + out.internal);
  }
  if (!out.error.empty()) throw Error(out.error);
  if (!out.finished) throw Error("internal simulator failure: run ended before both streams");
  ctx.finish(out.end_cycle);
  spdlog::debug("timed run on '{}': {} cycles, {} + {} instructions", ctx.arch.name, ctx.stats.total_cycles,
                ctx.stats.engine(Engine::Gdma).instructions, ctx.stats.engine(Engine::Tiu).instructions);
}

}  // namespace tpusim::sim
