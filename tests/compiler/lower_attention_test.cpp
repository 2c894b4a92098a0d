// A one-block ViT as torch.onnx writes it (the zoo's transformer_forms: class token through
// Expand + Concat, position embedding Add, LayerNorm, attention with Q·K^T and P·V, Softmax, GELU,
// x[:, 0]) calibrated at W8A8 and W4A8, opsets 13 and 17, batch 1 and 2: the lowering has
// constant activations and MatMuls of two activations (K and V quantized symmetric), the integer
// reference tracks FP32, the compiled program equals the integer reference bit for bit on every
// preset and schedule, and the saved QDQ model reads back to the same integers.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "compiler/backend.h"
#include "compiler/calibrate.h"
#include "compiler/fp32_interp.h"
#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_export.h"
#include "compiler/onnx_import.h"
#include "isa/arch.h"
#include "tests/support/onnx_builders.h"
#include "tests/support/onnx_zoo.h"
#include "tests/support/random_graph.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

TEST_CASE("A ViT block with constant activations and attention MatMuls compiles bit-exactly",
          "[compiler][lower][transformer]") {
  for (int64_t batch : {1, 2})
    for (int64_t opset : {13, 17})
      for (const char* bits : {"w8a8", "w4a8"}) {
        INFO("batch " << batch << " opset " << opset << " " << bits);
        const TestModel m = transformer_forms(batch, opset);
        const Graph fp = import_model(m.bytes, batch);
        std::mt19937 rng(static_cast<uint32_t>(batch * 100 + opset));
        const int64_t per = 3 * 8 * 8;
        CalibConfig cfg;
        parse_bits(bits, cfg);
        const CalibResult q =
            quantize_fp32(fp, make_npy_f32({8, 3, 8, 8}, uniform(rng, 8 * per, -1, 1)), cfg);
        const IntGraph ig = lower_qdq(q.graph);
        int act_matmuls = 0, constants = 0;
        for (const IOp& op : ig.ops)
          if (op.as<IActMatmul>()) {
            ++act_matmuls;
            const ITensor& b = ig.tensor(op.inputs[1]);
            CHECK(b.zero_point == 0);
            CHECK(b.dtype == DType::Int8);
          }
        for (const auto& [name, t] : ig.tensors) constants += !t.data.empty();
        CHECK(act_matmuls == 2);  // Q·K^T and P·V
        CHECK(constants >= 2);    // the class token and the position embedding
        // The integer reference against FP32 on a held-out input.
        const Tensor xt = make_f32("x", {batch, 3, 8, 8}, uniform(rng, batch * per, -1, 1));
        const TensorMap want = run_fp32(fp, {{"x", xt}});
        const IntValues in = quantize_inputs(ig, {{"x", xt}});
        const IntRun run = run_int(ig, in);
        const double cos = cosine(dequantize(run.values.at(ig.outputs[0])), want.at("y").f32);
        WARN("batch " << batch << " opset " << opset << " " << bits << ": output cosine vs FP32 " << cos);
        CHECK(cos >= (std::string(bits) == "w8a8" ? 0.98 : 0.9));
        // The program on every preset and schedule equals the integer reference.
        for (const Arch& a : arch_presets())
          for (int opt : {0, 1}) {
            const betest::BitexactResult res = betest::run_bitexact(ig, a, opt == 0, 70, opt);
            INFO(a.name << " opt " << opt << ": " << res.mismatch);
            CHECK(res.mismatch.empty());
          }
        // Saved as QDQ (`compile --save-qdq`) and read back: the same integers.
        const IntGraph back = lower_qdq(import_model(export_onnx(q.graph), batch));
        CHECK(run_int(back, in).values.at(back.outputs[0]).data == run.values.at(ig.outputs[0]).data);
      }
}

TEST_CASE("A MatMul of two activations refuses an asymmetric second operand in one line",
          "[compiler][lower][transformer]") {
  // x [2, 3, 4] times x^T, calibrated (x symmetric), then x's grid given a zero point as another
  // tool might write it.
  ModelBuilder b(17);
  b.input("x", {2, 3, 4}).output("y");
  attr(b.node("Transpose", {"x"}, "xt"), "perm", std::vector<int64_t>{0, 2, 1});
  b.node("MatMul", {"x", "xt"}, "y");
  const Graph fp = import_model(b.bytes(), 2);
  std::mt19937 rng(2);
  CalibResult q = quantize_fp32(fp, make_npy_f32({2, 3, 4}, uniform(rng, 24, -1, 1)), CalibConfig{});
  CHECK_NOTHROW(lower_qdq(q.graph));
  for (Node& n : q.graph.nodes)
    if ((n.op == Op::QuantizeLinear && n.input(0) == "x") ||
        (n.op == Op::DequantizeLinear && n.input(0) == "x_q"))
      n.attr<QuantAttrs>().zero_point[0] = 3;
  CHECK_THROWS_WITH(lower_qdq(q.graph),
                    Catch::Contains("a MatMul of two activations needs it signed with zero point 0"));
}
