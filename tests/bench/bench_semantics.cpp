// Google Benchmark of the instruction semantics: simulated MACs per host second for conv2d and
// matmul, optimised kernels vs their reference twins. Not a test; figures go to docs/performance.md.
//   build/tests/bench_semantics --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <random>

#include "isa/semantics.h"

using namespace tpusim;

namespace {

struct Machine {
  Geometry geo{16, 0x20000, 4096};
  std::vector<uint8_t> lmem, ddr;
  Machine() : lmem(uint64_t{16} * 0x20000), ddr(4096) {
    std::mt19937_64 rng(1);
    for (auto& b : lmem) b = static_cast<uint8_t>(rng());
  }
};

Instr conv(int64_t ic, int64_t oc, int64_t hw, int64_t k, int64_t in_t, int64_t w_t) {
  ops::Conv2d c;
  c.n = 1, c.ic = ic, c.oc = oc, c.ih = c.iw = hw, c.kh = c.kw = k, c.groups = 1;
  c.stride_h = c.stride_w = c.dil_h = c.dil_w = 1, c.pad_t = c.pad_b = c.pad_l = c.pad_r = k / 2;
  c.in_dtype = in_t, c.w_dtype = w_t, c.src = 0, c.weight = 0x8000, c.bias = 0x10000, c.dst = 0x18000;
  c.has_bias = 1, c.out_dtype = 0, c.m0 = 1 << 30, c.shift = 40, c.clamp_lo = -128, c.clamp_hi = 127;
  return c.instr();
}

void run(benchmark::State& state, const Instr& in, Kernels kernels) {
  Machine m;
  if (std::string why = check(in, m.geo); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  ExecCounters counters;
  for (auto _ : state) execute(in, MemView{m.geo, m.ddr, m.lmem}, counters, kernels);
  state.counters["MAC/s"] =
      benchmark::Counter(static_cast<double>(counters.macs), benchmark::Counter::kIsRate);
}

void BM_conv3x3_int8(benchmark::State& s) {
  run(s, conv(32, 32, 28, 3, 0, 0), static_cast<Kernels>(s.range(0)));
}
void BM_conv5x5_lenet2(benchmark::State& s) {
  run(s, conv(6, 16, 14, 5, 0, 0), static_cast<Kernels>(s.range(0)));
}
void BM_conv3x3_int4(benchmark::State& s) {
  run(s, conv(32, 32, 28, 3, 2, 2), static_cast<Kernels>(s.range(0)));
}
void BM_matmul(benchmark::State& s) {
  ops::Matmul mm;
  mm.m = 8, mm.k = 784, mm.n = 128, mm.src = 0, mm.weight = 0x1000, mm.dst = 0x10000;
  mm.out_dtype = 0, mm.m0 = 1 << 30, mm.shift = 40, mm.clamp_lo = -128, mm.clamp_hi = 127;
  run(s, mm.instr(), static_cast<Kernels>(s.range(0)));
}

}  // namespace

// Arg 0: optimised kernels; 1: reference twins.
BENCHMARK(BM_conv3x3_int8)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv5x5_lenet2)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv3x3_int4)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_matmul)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
