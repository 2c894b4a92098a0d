// Google Benchmark of the instruction semantics: simulated MACs per host second for conv2d and
// matmul, elements per second for eltwise and lut, optimised kernels vs their reference twins, and
// the fast conv2d on each Highway target of this CPU (forced by hwy::SetSupportedTargetsForTest).
// Not a test; figures go to docs/performance.md.
//   build/tests/bench_semantics --benchmark_min_time=1
#include <benchmark/benchmark.h>

#define HWY_WANT_AVX3_DL  // the targets isa/simd_*.cpp compile
#include <hwy/highway.h>

#include <random>
#include <string>

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

// Elementwise instructions: output elements per second.
void run_elems(benchmark::State& state, const Instr& in, Kernels kernels, int64_t elems) {
  run(state, in, kernels);
  state.counters.erase("MAC/s");
  state.counters["elem/s"] = benchmark::Counter(
      static_cast<double>(elems) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
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

// eltwise on [1, 64, 28, 28]: a and b of type t (int32: the compiler's partial-sum add with identity
// rescales), int8 output, or int32 for int32 inputs.
void eltwise(benchmark::State& s, int64_t op, int64_t t) {
  ops::Eltwise e;
  e.op = op, e.n = 1, e.c = 64, e.h = e.w = 28, e.a_dtype = e.b_dtype = t, e.a = 0, e.b = 0xA000,
  e.dst = 0x14000;
  e.a_zp = t == 4 ? 0 : 3, e.b_zp = t == 4 ? 0 : -5, e.a_m0 = e.b_m0 = 1 << 30, e.a_shift = e.b_shift = 30;
  e.out_dtype = t == 4 ? 4 : 0, e.m0 = 1 << 30, e.shift = t == 4 ? 30 : 33;
  e.clamp_lo = t == 4 ? INT32_MIN : -128, e.clamp_hi = t == 4 ? INT32_MAX : 127;
  run_elems(s, e.instr(), static_cast<Kernels>(s.range(0)), 64 * 28 * 28);
}
void BM_eltwise_add_int8(benchmark::State& s) { eltwise(s, 0, 0); }
void BM_eltwise_mul_int8(benchmark::State& s) { eltwise(s, 1, 0); }
void BM_eltwise_add_int32(benchmark::State& s) { eltwise(s, 0, 4); }

// lut on [1, 64, 56, 56] codes of type in -> out (the table at 0x1F000 in every lane).
void lut(benchmark::State& s, int64_t in, int64_t out) {
  ops::Lut l;
  l.n = 1, l.c = 64, l.h = l.w = 56, l.in_dtype = in, l.out_dtype = out, l.src = 0, l.dst = 0x8000,
  l.table = 0x1F000;
  run_elems(s, l.instr(), static_cast<Kernels>(s.range(0)), 64 * 56 * 56);
}
void BM_lut_int8(benchmark::State& s) { lut(s, 0, 0); }
void BM_lut_int4(benchmark::State& s) { lut(s, 2, 2); }

// The fast conv2d with the dispatch forced to target range(1) of this CPU's list (0: the best).
void BM_conv_target(benchmark::State& s) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  const auto t = static_cast<size_t>(s.range(1));
  if (t >= targets.size()) {
    s.SkipWithError("no such target");
    return;
  }
  s.SetLabel(hwy::TargetName(targets[t]));
  hwy::SetSupportedTargetsForTest(targets[t]);
  run(s, s.range(0) == 0 ? conv(32, 64, 14, 3, 1, 0) : conv(64, 64, 56, 3, 1, 0), Kernels::Fast);
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace

// Arg 0: optimised kernels; 1: reference twins.
BENCHMARK(BM_conv3x3_int8)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv5x5_lenet2)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv3x3_int4)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_matmul)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_eltwise_add_int8)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_eltwise_mul_int8)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_eltwise_add_int32)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_lut_int8)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_lut_int4)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
// Args: shape (0: LeNet conv2 32->64 at 14x14, uint8 input; 1: ResNet-18 layer1 64->64 at 56x56),
// target index.
BENCHMARK(BM_conv_target)->ArgsProduct({{0, 1}, {0, 1, 2, 3, 4, 5}})->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
