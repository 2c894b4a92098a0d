// Google Benchmark: the simulator's functional conv2d kernel (Kernels::Fast, one instruction on
// LMEM) against oneDNN's int8 convolution (u8 activations x s8 weights -> s32 -> u8, weights in
// oneDNN's own blocked layout, reordered once) on the LeNet-5 and ResNet-18 conv shapes. Both
// report MAC/s; scripts/bench_speed.py prints their ratio. Not a test: figures in
// docs/performance.md. Run single-threaded for a per-core comparison:
//   OMP_NUM_THREADS=1 build/tests/bench_conv_onednn
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "isa/semantics.h"
#include "isa/simd_kernels.h"

using namespace tpusim;

namespace {

struct Shape {
  const char* name;
  int64_t ic, oc, hw, k, stride, pad;
  int64_t out_hw() const { return (hw + 2 * pad - k) / stride + 1; }
  double macs() const {
    return static_cast<double>(oc * out_hw() * out_hw()) * static_cast<double>(ic * k * k);
  }
};

const Shape kShapes[] = {
    {"lenet_conv1", 1, 32, 28, 3, 1, 1},        {"lenet_conv2", 32, 64, 14, 3, 1, 1},
    {"resnet18_conv1", 3, 64, 224, 7, 2, 3},    {"resnet18_layer1", 64, 64, 56, 3, 1, 1},
    {"resnet18_layer2", 128, 128, 28, 3, 1, 1}, {"resnet18_layer3", 256, 256, 14, 3, 1, 1},
    {"resnet18_layer4", 512, 512, 7, 3, 1, 1},  {"resnet18_down2", 64, 128, 56, 1, 2, 0},
};

constexpr uint32_t kLanes = 16, kLaneBytes = 0x40000;

uint64_t per_lane(int64_t channels, int64_t elems) {
  return static_cast<uint64_t>((channels + kLanes - 1) / kLanes * elems);
}

void bm_tpusim(benchmark::State& state, Shape s) {
  ops::Conv2d c;
  c.n = 1, c.ic = s.ic, c.oc = s.oc, c.ih = c.iw = s.hw, c.kh = c.kw = s.k, c.groups = 1;
  c.stride_h = c.stride_w = s.stride, c.dil_h = c.dil_w = 1, c.pad_t = c.pad_b = c.pad_l = c.pad_r = s.pad;
  c.in_dtype = 1, c.w_dtype = 0, c.in_zp = 3, c.has_bias = 1;
  c.src = 0;
  c.weight = (c.src + per_lane(s.ic, s.hw * s.hw) + 63) / 64 * 64;
  c.bias = (c.weight + per_lane(s.oc, s.ic * s.k * s.k) + 63) / 64 * 64;
  c.dst = c.bias + per_lane(s.oc, 4) + 64;
  c.out_dtype = 1, c.m0 = 1 << 30, c.shift = 40, c.clamp_lo = 0, c.clamp_hi = 255;
  const Instr in = c.instr();
  Geometry geo{kLanes, kLaneBytes, 4096};
  if (std::string why = check(in, geo); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  std::vector<uint8_t> lmem(uint64_t{kLanes} * kLaneBytes), ddr(4096);
  std::mt19937_64 rng(1);
  for (auto& b : lmem) b = static_cast<uint8_t>(rng());
  ExecCounters counters;
  for (auto _ : state) execute(in, MemView{geo, ddr, lmem}, counters, Kernels::Fast);
  state.counters["MAC/s"] =
      benchmark::Counter(static_cast<double>(counters.macs), benchmark::Counter::kIsRate);
  state.SetLabel(simd::target_name());
}

void bm_onednn(benchmark::State& state, Shape s) {
  using dnnl::memory;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const int64_t o = s.out_hw();
  const memory::desc src_any({1, s.ic, s.hw, s.hw}, dt::u8, tag::any),
      wei_any({s.oc, s.ic, s.k, s.k}, dt::s8, tag::any), bias_md({s.oc}, dt::s32, tag::x),
      dst_any({1, s.oc, o, o}, dt::u8, tag::any);
  const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                          dnnl::algorithm::convolution_direct, src_any, wei_any, bias_md,
                                          dst_any, {s.stride, s.stride}, {s.pad, s.pad}, {s.pad, s.pad});
  dnnl::primitive_attr attr;
  attr.set_output_scales(0, {1.0f / 1024});
  const dnnl::convolution_forward::primitive_desc pd(d, attr, eng);
  memory src(pd.src_desc(), eng), wei(pd.weights_desc(), eng), bias(bias_md, eng), dst(pd.dst_desc(), eng);
  std::mt19937_64 rng(1);
  for (memory* m : {&src, &wei, &bias}) {
    auto* p = static_cast<uint8_t*>(m->get_data_handle());
    for (size_t i = 0; i < m->get_desc().get_size(); ++i) p[i] = static_cast<uint8_t>(rng() % 64);
  }
  dnnl::convolution_forward conv(pd);
  const std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
  double macs = 0;
  for (auto _ : state) {
    conv.execute(strm, args);
    strm.wait();
    macs += s.macs();
  }
  state.counters["MAC/s"] = benchmark::Counter(macs, benchmark::Counter::kIsRate);
  state.SetLabel(pd.impl_info_str());
}

}  // namespace

int main(int argc, char** argv) {
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("tpusim/") + s.name).c_str(), bm_tpusim, s)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("onednn/") + s.name).c_str(), bm_onednn, s)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
