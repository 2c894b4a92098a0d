// Google Benchmark of the whole simulator: simulated MACs and instructions per host second on a
// conv-heavy program (a stack of 3x3 convs, 32->32 channels on 28x28, weights streamed by the
// GDMA into double buffers, syncs between the engines), timed and functional, on the default
// preset. Not a test; figures go to docs/performance.md.
//   build/tests/bench_sim --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <random>

#include "sim/simulator.h"
#include "sim/timing.h"
#include "tests/support/sim_helpers.h"

using namespace tpusim;
using namespace simtest;

namespace {

// `layers` convs of `ch` -> `ch` channels, 3x3 pad 1, on hw x hw. LMEM: activations ping-pong
// between banks 0 and 1, the weights of layer l in slot l % 2 of bank 2.
Program conv_stack(const Arch& a, int64_t layers, int64_t ch, int64_t hw) {
  const uint64_t bank = sim::bank_bytes(a);
  const int64_t kbytes = ch * 9;  // one output channel's [ic, 3, 3] int8 kernel
  const int64_t w_lane = ceil_div(ch, a.lanes) * kbytes;
  const uint64_t act_ddr = 0, w_ddr = 0x100000, out_ddr = 0x80000;
  const ConvShape s{1, ch, hw, hw, ch, 3, 3, 1, 1, 1, 1};
  auto slot = [&](int64_t l) { return 2 * bank + static_cast<uint64_t>((l % 2) * w_lane); };
  auto act = [&](int64_t l) { return (l % 2) * bank; };  // input of layer l
  auto load_w = [&](int64_t l) {
    return load(DType::Int8, 1, ch, 1, kbytes, w_ddr + static_cast<uint64_t>(l * ch * kbytes), slot(l),
                a.lanes);
  };

  std::vector<Instr> gdma{load(DType::Int8, 1, ch, hw, hw, act_ddr, act(0), a.lanes), load_w(0)};
  if (layers > 1) gdma.push_back(load_w(1));
  std::vector<int64_t> w_loaded{2, 3};  // GDMA completed count once layer l's weights are in
  for (int64_t l = 2; l < layers; ++l) {
    gdma.push_back(sync(2 * (l - 2) + 2));  // TIU finished conv l-2, which read this slot
    gdma.push_back(load_w(l));
    w_loaded.push_back(static_cast<int64_t>(gdma.size()));
  }
  gdma.push_back(sync(2 * layers));
  gdma.push_back(store(DType::Int8, 1, ch, hw, hw, act(layers), out_ddr, a.lanes));
  gdma.push_back(end());

  std::vector<Instr> tiu;
  for (int64_t l = 0; l < layers; ++l) {
    tiu.push_back(sync(w_loaded[static_cast<size_t>(l)]));
    ops::Conv2d c = conv(s, act(l), slot(l), act(l + 1));
    c.shift = 14;  // keeps most outputs inside int8 for random operands
    tiu.push_back(c.instr());
  }
  tiu.push_back(end());

  Program p = program(a, gdma, tiu);
  std::mt19937 rng(7);
  DataBlock w{w_ddr, std::vector<uint8_t>(static_cast<size_t>(layers * ch * kbytes))};
  for (uint8_t& b : w.bytes) b = static_cast<uint8_t>(rng() % 255 + 129);  // int8 in [-127, 127]
  p.data.push_back(std::move(w));
  TensorDesc x{"x", {1, ch, hw, hw}, DType::Int8, 1.0f, 0, act_ddr};
  TensorDesc y{"y", {1, ch, hw, hw}, DType::Int8, 1.0f, 0, out_ddr};
  p.inputs.push_back(x);
  p.outputs.push_back(y);
  return p;
}

void run(benchmark::State& state, const Program& p, bool functional) {
  const Arch& a = arch_preset("default");
  sim::DeviceMemory mem = sim::prepare_memory(p, a);
  std::mt19937 rng(3);
  std::vector<int32_t> x(p.inputs[0].elements());
  for (int32_t& v : x) v = static_cast<int32_t>(rng() % 256) - 128;
  sim::write_tensor(mem, p.inputs[0], x);
  sim::RunOptions o;
  o.functional = functional;
  o.keep_events = false;  // as a batch run does
  uint64_t macs = 0, instructions = 0, cycles = 0;
  for (auto _ : state) {
    const sim::RunResult r = sim::run(p, a, mem, o);
    macs += r.stats.macs;
    for (const sim::EngineStats& e : r.stats.engines) instructions += e.instructions;
    cycles = r.stats.total_cycles;
  }
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(macs), benchmark::Counter::kIsRate);
  state.counters["instr/s"] =
      benchmark::Counter(static_cast<double>(instructions), benchmark::Counter::kIsRate);
  state.counters["sim_cycles"] = static_cast<double>(cycles);
}

// Arg: 0 timed (SystemC), 1 functional.
void BM_conv_stack(benchmark::State& s) {
  static const Program p = conv_stack(arch_preset("default"), 8, 32, 28);
  run(s, p, s.range(0) == 1);
}
// Many small instructions (16->16 convs on 4x4): the per-instruction cost of the model.
void BM_small_convs(benchmark::State& s) {
  static const Program p = conv_stack(arch_preset("default"), 64, 16, 4);
  run(s, p, s.range(0) == 1);
}

}  // namespace

BENCHMARK(BM_conv_stack)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK(BM_small_convs)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();
BENCHMARK_MAIN();
