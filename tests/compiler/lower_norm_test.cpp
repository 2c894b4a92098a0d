// Quantized LayerNormalization and Softmax (compiler/lower_norm.cpp): a calibrated FP32 model
// lowers to ILayerNorm / ISoftmax, the integer reference tracks the FP32 interpreter, and each op's
// integers equal the `layernorm` / `softmax` instruction (isa/semantics_norm.cpp, written apart)
// run on the same input laid out as [rows, D, 1, 1] — the contract the back end keeps; the compiled
// model simulates bit-exactly on every preset.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "base/error.h"
#include "base/npy.h"
#include "compiler/backend.h"
#include "compiler/calibrate.h"
#include "compiler/fp32_interp.h"
#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_export.h"
#include "isa/arch.h"
#include "isa/semantics.h"
#include "tests/support/onnx_builders.h"
#include "tests/support/random_graph.h"
#include "tests/support/sim_helpers.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

constexpr int64_t kRows = 6, kD = 24;

// x [2, 6, 24] -> LayerNormalization -> MatMul [24, 24] -> Softmax over the last axis -> y.
Graph fp32_model(int64_t opset) {
  std::mt19937 rng(5);
  ModelBuilder b(opset);
  b.input("x", {2, kRows, kD}).output("y");
  if (opset >= 17) {
    attr(b.node("LayerNormalization",
                {"x", b.f32("g", {kD}, uniform(rng, kD, 0.5f, 1.5f)),
                 b.f32("beta", {kD}, uniform(rng, kD, -0.3f, 0.3f))},
                "ln"),
         "epsilon", 1e-5f);
  } else {  // no bias: LayerNormalization-1's B is optional
    b.node("LayerNormalization", {"x", b.f32("g", {kD}, uniform(rng, kD, 0.5f, 1.5f))}, "ln");
  }
  b.node("MatMul", {"ln", b.f32("w", {kD, kD}, uniform(rng, kD * kD, -0.5f, 0.5f))}, "scores");
  attr(b.node("Softmax", {"scores"}, "y"), "axis", int64_t{-1});
  return import_model(b.bytes(), 2);
}

std::vector<float> sample_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  return uniform(rng, static_cast<size_t>(n * 2 * kRows * kD), -2.0f, 2.0f);
}
NpyArray samples(int64_t n, uint32_t seed) {
  return make_npy_f32({n * 2, kRows, kD}, sample_values(n, seed));
}

// One instruction on the op's input placed in DDR, loaded as [rows, D, 1, 1], with its table.
std::vector<int32_t> run_instruction(const IOp& op, const IntGraph& g, const IntValue& x) {
  const uint32_t lanes = 16;
  const int64_t D = x.shape.back(), rows = num_elements(x.shape) / D;
  const ITensor& out = g.tensor(op.output);
  std::vector<uint8_t> ddr(1 << 16), lmem(size_t{lanes} << 14);
  const MemView m{Geometry{lanes, uint64_t{1} << 14, ddr.size()}, ddr, lmem};
  for (size_t i = 0; i < x.data.size(); ++i) store_elem(ddr.data(), i, x.dtype, x.data[i]);
  const uint64_t table_ddr = 0x4000, out_ddr = 0x8000, in_l = 0, table_l = 0x1000, out_l = 0x3000;
  std::vector<Instr> prog{simtest::load(x.dtype, rows, D, 1, 1, 0, in_l, lanes)};
  const Multiplier& k = op.rq.mult.at(0);
  if (const ILayerNorm* l = op.as<ILayerNorm>()) {
    for (int64_t c = 0; c < D; ++c) {
      store_elem(ddr.data() + table_ddr, static_cast<uint64_t>(2 * c), DType::Int32,
                 l->g[static_cast<size_t>(c)]);
      store_elem(ddr.data() + table_ddr, static_cast<uint64_t>(2 * c + 1), DType::Int32,
                 l->b[static_cast<size_t>(c)]);
    }
    prog.push_back(simtest::load(DType::Int32, 1, D, 1, 2, table_ddr, table_l, lanes));
    ops::Layernorm i{.dst = out_l, .src = in_l, .params = table_l, .n = rows, .c = D, .h = 1, .w = 1};
    i.in_dtype = static_cast<int64_t>(x.dtype), i.eps = l->eps;
    i.out_dtype = static_cast<int64_t>(out.dtype), i.out_zp = op.rq.out_zp, i.m0 = k.m0, i.shift = k.shift;
    i.clamp_lo = op.rq.clamp_lo, i.clamp_hi = op.rq.clamp_hi;
    prog.push_back(i.instr());
  } else {
    const ISoftmax& s = std::get<ISoftmax>(op.kind);
    for (size_t d = 0; d < s.table.size(); ++d)
      store_elem(ddr.data() + table_ddr, d, DType::Int32, s.table[d]);
    ops::DmaLoad t = simtest::dma_fields(DType::Int32, 1, std::min<int64_t>(D, lanes), 1,
                                         static_cast<int64_t>(s.table.size()), lanes, true, false);
    t.src = table_ddr, t.dst = table_l, t.src_sc = 0;  // one table replicated into every lane
    prog.push_back(t.instr());
    ops::Softmax i{.dst = out_l, .src = in_l, .table = table_l, .n = rows, .c = D, .h = 1, .w = 1};
    i.in_dtype = static_cast<int64_t>(x.dtype);
    i.out_dtype = static_cast<int64_t>(out.dtype), i.out_zp = op.rq.out_zp, i.m0 = k.m0, i.shift = k.shift;
    i.clamp_lo = op.rq.clamp_lo, i.clamp_hi = op.rq.clamp_hi;
    prog.push_back(i.instr());
  }
  prog.push_back(simtest::store(out.dtype, rows, D, 1, 1, out_l, out_ddr, lanes));
  for (const Instr& in : prog) {
    REQUIRE(check(in, m.geo) == "");
    ExecCounters counters;
    execute(in, m, counters, Kernels::Reference);
  }
  std::vector<int32_t> r;
  for (int64_t i = 0; i < rows * D; ++i)
    r.push_back(load_elem(ddr.data() + out_ddr, static_cast<uint64_t>(i), out.dtype));
  return r;
}

}  // namespace

TEST_CASE("LayerNorm and Softmax lower; the integer reference tracks FP32 and equals the instructions",
          "[compiler][lower][transformer]") {
  for (int64_t opset : {17, 13}) {
    for (const char* bits : {"w8a8", "w4a8"}) {
      INFO("opset " << opset << " " << bits);
      CalibConfig cfg;
      parse_bits(bits, cfg);
      const Graph fp = fp32_model(opset);
      const CalibResult q = quantize_fp32(fp, samples(8, 1), cfg);
      const IntGraph ig = lower_qdq(q.graph);
      int norms = 0;
      for (const IOp& op : ig.ops) norms += op.as<ILayerNorm>() || op.as<ISoftmax>();
      CHECK(norms == 2);
      // Compiled for every preset, both schedules: the simulator equals the integer reference.
      for (const Arch& a : arch_presets())
        for (int opt : {0, 1}) {
          const betest::BitexactResult res = betest::run_bitexact(ig, a, opt == 1, 40, opt);
          INFO(a.name << " opt " << opt << ": " << res.mismatch);
          CHECK(res.mismatch.empty());
        }
      // The integer reference against the FP32 model on a held-out input.
      const Tensor xt = make_f32("x", {2, kRows, kD}, sample_values(1, 2));
      const TensorMap want = run_fp32(fp, {{"x", xt}});
      IntValues in;
      const ITensor& xi = ig.tensor(ig.inputs[0]);
      IntValue xv{xi.shape, xi.dtype, xi.scale, xi.zero_point, {}};
      for (float v : xt.f32) xv.data.push_back(quantize_linear(v, xi.scale, xi.zero_point, xi.dtype));
      in[ig.inputs[0]] = xv;
      const IntRun run = run_int(ig, in);
      const std::vector<float> y = dequantize(run.values.at(ig.outputs[0]));
      const double cos = cosine(y, want.at("y").f32);
      WARN("opset " << opset << " " << bits << ": output cosine vs FP32 " << cos);
      CHECK(cos >= 0.99);
      // The calibrated model saved as ONNX (opset 17: LayerNormalization) reads back to the same
      // integer results (`compile --save-qdq`; ONNX Runtime runs such a file, docs/performance.md).
      const Graph back = import_model(export_onnx(q.graph), 2);
      CHECK(run_int(lower_qdq(back), in).values.at(ig.outputs[0]).data == run.values.at(ig.outputs[0]).data);
      // Each op's integers equal its instruction's on the same input.
      for (const IOp& op : ig.ops) {
        if (!op.as<ILayerNorm>() && !op.as<ISoftmax>()) continue;
        const IntValue& opin = run.values.at(op.inputs[0]);
        const std::vector<int32_t> got = run_instruction(op, ig, opin);
        CHECK(got == run.values.at(op.output).data);
      }
    }
  }
}

TEST_CASE("LayerNorm and Softmax refuse what has no integer form yet, in one line",
          "[compiler][lower][transformer]") {
  ModelBuilder b(17);
  b.input("x", {2, 4, 8}).output("y");
  attr(b.node("Softmax", {"x"}, "y"), "axis", int64_t{1});
  CalibConfig cfg;
  const Graph fp = import_model(b.bytes(), 2);
  std::mt19937 rng(1);
  const std::vector<float> v = uniform(rng, 64, -1, 1);
  CHECK_THROWS_WITH(
      lower_qdq(quantize_fp32(fp, make_npy_f32({2, 4, 8}, v), cfg).graph),
      "m.onnx: node 'y' (Softmax): is over axis 1 of a rank-3 tensor: only the last axis has an "
      "integer form");
}
