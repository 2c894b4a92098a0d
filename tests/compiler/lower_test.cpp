// Quantized lowering: the zoo's QDQ models lower to the expected integer ops with the model's own
// quantization parameters; a small model's parameters computed by hand; the report; the errors.
#include "compiler/lower.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "base/error.h"
#include "compiler/int_interp.h"
#include "compiler/lower_report.h"
#include "compiler/onnx_import.h"
#include "quant/quantize.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;
using Strings = std::vector<std::string>;

namespace {

const IOp& writer(const IntGraph& g, const std::string& output) {
  for (const IOp& op : g.ops)
    if (op.output == output) return op;
  FAIL("no op writes " << output);
  throw;
}

Strings kinds(const IntGraph& g) {
  Strings r;
  for (const LayerReport& l : lowering_report(g)) r.push_back(l.kind + ":" + l.output.name);
  return r;
}

// Scale of the QuantizeLinear/DequantizeLinear writing `tensor` in the float graph.
const QuantAttrs& quant(const Graph& g, const std::string& tensor) {
  return g.producer(tensor)->attr<QuantAttrs>();
}
float scale(const Graph& g, const std::string& tensor) { return quant(g, tensor).scale[0]; }

void check_multiplier(const Multiplier& m, double scale) {
  const QuantMultiplier want = quantize_multiplier(scale);
  CHECK(m.m0 == want.m0);
  CHECK(m.shift == want.shift);
  CHECK(m.rel_error == want.rel_error);
}

std::vector<int64_t> weight_ints(const std::vector<int8_t>& w) { return {w.begin(), w.end()}; }

}  // namespace

TEST_CASE("qdq_int8 lowers to integer ops with the model's parameters", "[compiler][lower]") {
  const Graph g = import_model(test_model("qdq_int8", 1).bytes);
  const IntGraph ig = lower_qdq(g);
  // GlobalAveragePool onto a finer grid (s_out = s_in / 2): a depthwise conv with unit weights.
  CHECK(kinds(ig) ==
        Strings{"conv2d:r1q_q", "pool.max:mpq_q", "conv2d:r2q_q", "conv2d:gapq_q", "matmul:y_q"});
  CHECK(ig.inputs == Strings{"xq_q"});
  CHECK(ig.float_inputs == Strings{"x"});
  CHECK(ig.outputs == Strings{"y_q"});
  CHECK(ig.float_outputs == Strings{"y"});
  CHECK(ig.tensor("flat").view_of == "gapq_q");

  const IOp& op = writer(ig, "r1q_q");
  CHECK(op.sources == Strings{"c1", "r1", "r1q_q"});
  const IConv& c = *op.as<IConv>();
  CHECK(c.w_scale == quant(g, "w1").scale);
  CHECK(weight_ints(c.weight) == g.tensor("w1_q").ints);
  // The int32 bias DQ is at float(s_in * s_w[c]) already: its integers are taken as they are.
  CHECK(std::vector<int64_t>(c.bias.begin(), c.bias.end()) == g.tensor("b1_q").ints);
  REQUIRE(op.rq.mult.size() == 8);
  for (size_t k = 0; k < 8; ++k)
    check_multiplier(op.rq.mult[k], double(scale(g, "xq")) * c.w_scale[k] / scale(g, "r1q"));
  CHECK(op.rq.clamp_lo == 0);  // ReLU at zero point 0
  CHECK(op.rq.clamp_hi == 127);
  CHECK(c.pads[0] == 1);
  CHECK(c.in_zp == 0);

  const IOp& fc = writer(ig, "y_q");
  const IMatmul& m = *fc.as<IMatmul>();
  CHECK(weight_ints(m.weight) == g.tensor("w3_q").ints);  // transB=1: rows are output columns already
  CHECK(fc.inputs == Strings{"flat"});
}

TEST_CASE("qdq_uint8: float bias, uint8 weights at 128, residual Add, MatMul + bias Add",
          "[compiler][lower]") {
  const Graph g = import_model(test_model("qdq_uint8", 1).bytes);
  const IntGraph ig = lower_qdq(g);
  CHECK(kinds(ig) ==
        Strings{"conv2d:a1_q", "conv2d:b1q_q", "eltwise.add:sumq_q", "pool.avg:apq_q", "matmul:y_q"});
  const double sx = scale(g, "xq"), s1 = scale(g, "a1"), s2 = scale(g, "b1q"), s3 = scale(g, "sumq");

  const IOp& c1 = writer(ig, "a1_q");
  const IConv& conv1 = *c1.as<IConv>();
  REQUIRE(c1.rq.mult.size() == 1);  // per-tensor weights: one multiplier, no table
  check_multiplier(c1.rq.mult[0], sx * conv1.w_scale[0] / s1);
  for (size_t k = 0; k < 8; ++k)
    CHECK(conv1.bias[k] == std::nearbyint(g.tensor("b1").f32[k] / (sx * conv1.w_scale[k])));
  CHECK(conv1.in_zp == 128);
  CHECK(c1.rq.clamp_lo == 10);  // ReLU: the zero point
  CHECK(c1.rq.clamp_hi == 255);

  const IConv& conv2 = *writer(ig, "b1q_q").as<IConv>();
  CHECK(conv2.w_dtype == DType::Int8);
  for (size_t i = 0; i < conv2.weight.size(); ++i) CHECK(conv2.weight[i] == g.tensor("w2_q").ints[i] - 128);
  CHECK(conv2.bias.empty());
  CHECK(conv2.in_zp == 10);

  const IOp& add = writer(ig, "sumq_q");
  const IEltwise& e = *add.as<IEltwise>();
  const double u = 2 * std::max(s1, s2) / (1 << 20);  // the common intermediate scale
  CHECK(e.a_zp == 10);
  CHECK(e.b_zp == 128);
  check_multiplier(e.a_rescale, s1 / u);
  check_multiplier(e.b_rescale, s2 / u);
  check_multiplier(add.rq.mult[0], u / s3);
  CHECK(add.rq.out_zp == 100);

  const IOp& ap = writer(ig, "apq_q");
  CHECK(ap.as<IPool>()->mode == PoolMode::Avg);
  CHECK(!ap.as<IPool>()->count_pad);
  CHECK(ap.rq.mult[0].m0 == kM0Identity);  // same scale in and out: exactly 1.0
  CHECK(ap.rq.mult[0].shift == kShiftIdentity);

  const IOp& fc = writer(ig, "y_q");
  CHECK(fc.sources == Strings{"mm", "fc", "y_q"});  // the bias Add is folded into the matmul
  const IMatmul& m = *fc.as<IMatmul>();
  const std::vector<int64_t>& w3 = g.tensor("w3_q").ints;  // [288, 10]: transposed to [10][288]
  for (int64_t j = 0; j < 10; ++j)
    for (int64_t k = 0; k < 288; k += 37) CHECK(m.weight[j * 288 + k] == w3[k * 10 + j]);
  for (size_t j = 0; j < 10; ++j)
    CHECK(m.bias[j] == std::nearbyint(g.tensor("b3").f32[j] / (s3 * m.w_scale[j])));
}

TEST_CASE("qdq_int4: int4 weights, uint4 clamps, a max pool with no QuantizeLinear after it",
          "[compiler][lower]") {
  const Graph g = import_model(test_model("qdq_int4", 1).bytes);
  const IntGraph ig = lower_qdq(g);
  CHECK(kinds(ig) == Strings{"conv2d:r1q_q", "pool.max:mp", "matmul:y_q"});
  const IOp& c = writer(ig, "r1q_q");
  CHECK(c.as<IConv>()->w_dtype == DType::Int4);
  CHECK(weight_ints(c.as<IConv>()->weight) == g.tensor("w1_q").ints);
  CHECK(c.rq.clamp_lo == 0);
  CHECK(c.rq.clamp_hi == 15);
  // MaxPool commutes with DequantizeLinear: materialised on the input's grid, exactly.
  const IOp& mp = writer(ig, "mp");
  CHECK(ig.tensor("mp").dtype == DType::UInt4);
  CHECK(ig.tensor("mp").scale == scale(g, "r1q"));
  CHECK(mp.rq.mult[0].m0 == kM0Identity);
  CHECK(mp.rq.mult[0].rel_error == 0.0);
  CHECK(ig.tensor("flat").view_of == "mp");
  const IMatmul& m = *writer(ig, "y_q").as<IMatmul>();
  CHECK(m.w_dtype == DType::Int4);
  CHECK(weight_ints(m.weight) == g.tensor("w2_q").ints);  // from packed int32_data
}

TEST_CASE("qdq_depthwise: depthwise + ReLU6, residual, pools, Mul, Concat with requant, FC",
          "[compiler][lower]") {
  const Graph g = import_model(qdq_depthwise(1).bytes);
  const IntGraph ig = lower_qdq(g);
  CHECK(kinds(ig) == Strings{"conv2d:dwq_q", "conv2d:pwq_q", "conv2d:skq_q", "eltwise.add:sumq_q",
                             "pool.avg:apq_q", "pool.max:mpq_q", "eltwise.mul:prodq_q",
                             "requant:catq_q_requant0", "requant:catq_q_requant2", "concat:catq_q",
                             "conv2d:gapq_q", "matmul:y_q"});
  const IOp& dw = writer(ig, "dwq_q");
  CHECK(dw.as<IConv>()->groups == 8);
  CHECK(dw.sources == Strings{"dw", "dw6", "dwq_q"});
  CHECK(dw.rq.clamp_lo == 0);
  CHECK(dw.rq.clamp_hi == quantize_linear(6.0f, scale(g, "dwq"), 0, DType::UInt8));
  CHECK(writer(ig, "sumq_q").rq.clamp_lo == 0);  // Add + ReLU
  CHECK(writer(ig, "pwq_q").rq.out_zp == -3);
  const IOp& mul = writer(ig, "prodq_q");
  CHECK(mul.as<IEltwise>()->a_rescale.m0 == kM0Identity);
  check_multiplier(mul.rq.mult[0], double(scale(g, "apq")) * scale(g, "mpq") / scale(g, "prodq"));
  const IOp& cat = writer(ig, "catq_q");
  CHECK(cat.inputs == Strings{"catq_q_requant0", "mpq_q", "catq_q_requant2"});  // mpq is on catq's grid
  const IOp& rq0 = writer(ig, "catq_q_requant0");
  CHECK(rq0.as<IRequant>()->in_zp == 2);
  check_multiplier(rq0.rq.mult[0], double(scale(g, "apq")) / scale(g, "catq"));
  // Average pools onto a finer grid: with windows clipped by padding stays a pool (the
  // count differs per window); the global one becomes a depthwise sum with one requant.
  const IOp& ap = writer(ig, "apq_q");
  CHECK(ap.as<IPool>()->mode == PoolMode::Avg);
  CHECK(!ap.as<IPool>()->count_pad);
  check_multiplier(ap.rq.mult[0], double(scale(g, "sumq")) / scale(g, "apq"));
  const IOp& gap = writer(ig, "gapq_q");
  const IConv& sum = *gap.as<IConv>();
  CHECK(sum.groups == 48);
  CHECK(sum.kernel[0] == 6);
  CHECK(sum.kernel[1] == 6);
  CHECK(sum.weight == std::vector<int8_t>(48 * 36, 1));
  check_multiplier(gap.rq.mult[0], double(scale(g, "catq")) / 36 / scale(g, "gapq"));
}

TEST_CASE("a small Conv + ReLU6: parameters computed by hand", "[compiler][lower]") {
  ModelBuilder b;
  b.input("x", {1, 1, 3, 3}).output("y");
  add_qdq(b, "x", "xq", 0.02f, 0, kInt8);
  add_dq_const(b, "w", {2, 1, 2, 2}, kInt8, {1, -2, 3, 4, -5, 6, 7, -8}, {0.01f, 0.005f});
  b.node("Conv", {"xq", "w", b.f32("bias", {2}, {0.1f, -0.05f})}, "c", "conv");
  b.node("Clip", {"c", b.scalar("lo", 0.0f), b.scalar("hi", 6.0f)}, "c6", "relu6");
  add_qdq(b, "c6", "y", 0.03f, 10, kUInt8);
  const IntGraph ig = lower_qdq(import_model(b.bytes()));
  REQUIRE(ig.ops.size() == 1);
  const IOp& op = ig.ops[0];
  const IConv& c = *op.as<IConv>();
  // bias = round(b / (s_in * s_w)): 0.1 / (0.02 * 0.01) = 500, -0.05 / (0.02 * 0.005) = -500.
  CHECK(c.bias == std::vector<int32_t>{500, -500});
  check_multiplier(op.rq.mult.at(0), double(0.02f) * 0.01f / 0.03f);  // s_in * s_w[c] / s_out
  check_multiplier(op.rq.mult.at(1), double(0.02f) * 0.005f / 0.03f);
  // Clamps: max(0, 10 + round(0 / 0.03)) = 10 and min(255, 10 + round(6 / 0.03)) = 210.
  CHECK(op.rq.clamp_lo == 10);
  CHECK(op.rq.clamp_hi == 210);
  CHECK(op.rq.out_zp == 10);
  CHECK(ig.tensor("y_q").dtype == DType::UInt8);
}

TEST_CASE("the lowering report lists every layer's parameters and multiplier error", "[compiler][lower]") {
  const IntGraph ig = lower_qdq(import_model(test_model("qdq_int4", 1).bytes));
  const std::vector<LayerReport> r = lowering_report(ig);
  REQUIRE(r.size() == 3);
  CHECK(r[0].weight_bits == 4);
  CHECK(r[0].multipliers == 5);
  CHECK(r[0].output.dtype == "uint4");
  CHECK(r[0].max_rel_error > 0);
  CHECK(r[0].max_rel_error < 1e-9);  // M0 has 31 bits: the error is ~2^-31
  CHECK(r[1].weight_bits == 0);
  CHECK(r[1].max_rel_error == 0);
  const nlohmann::json j = report_json(ig, r);
  CHECK(j["source"] == "m.onnx");
  REQUIRE(j["layers"].size() == 3);
  CHECK(j["layers"][0]["kind"] == "conv2d");
  CHECK(j["layers"][0]["clamp"] == nlohmann::json::array({0, 15}));
  CHECK(j["layers"][0]["inputs"][0]["name"] == "xq_q");
  CHECK(j["layers"][2]["weight_bits"] == 4);
  CHECK(j["layers"][2]["m0"][0] == r[2].m0_min);
  const std::string text = format_report(r);
  CHECK(std::count(text.begin(), text.end(), '\n') == 4);
  CHECK(text.find("pool.max") != std::string::npos);
}

TEST_CASE("pass-through: views, reinterpreting DQ, DQ-Relu-Q, a Concat with no Q, an integer input",
          "[compiler][lower]") {
  ModelBuilder b;
  b.input("x", {1, 2, 2, 2}).input("xi", {1, 2, 2, 2}, kInt8);
  b.output("flat").output("reint").output("rq").output("xi_dq");
  add_qdq(b, "x", "xq", 0.1f, 0, kInt8);
  add_qdq(b, "xq", "same", 0.1f, 0, kInt8);  // Q(DQ(q)) on the same grid: no op
  b.node("DequantizeLinear", {"xq_q", b.scalar("s2", 0.2f), b.ints("z2", {}, kInt8, {1})}, "reint");
  b.node("Relu", {"xq"}, "r", "relu");
  add_qdq(b, "r", "rq", 0.05f, -10, kInt8);
  attr(b.node("Concat", {"same", "xq"}, "cat", "cat"), "axis", int64_t{1});
  b.node("Flatten", {"cat"}, "flat", "flatten");
  b.node("DequantizeLinear", {"xi", b.scalar("si", 0.05f), b.ints("zi", {}, kInt8, {3})}, "xi_dq");
  const Graph g = import_model(b.bytes());
  const IntGraph ig = lower_qdq(g);
  CHECK(ig.inputs == Strings{"xq_q", "xi"});
  CHECK(ig.float_inputs == Strings{"x", "xi"});
  CHECK(ig.outputs == Strings{"flat", "reint", "rq_q", "xi"});
  CHECK(ig.tensor("xi").scale == 0.05f);
  CHECK(ig.tensor("same_q").view_of == "xq_q");
  CHECK(ig.tensor("reint").view_of == "xq_q");
  CHECK(ig.tensor("reint").zero_point == 1);
  CHECK(kinds(ig) == Strings{"requant:rq_q", "concat:cat"});
  const IOp& relu = writer(ig, "rq_q");
  CHECK(relu.sources == Strings{"relu", "rq_quant"});
  CHECK(relu.rq.clamp_lo == -10);
  check_multiplier(relu.rq.mult[0], 2.0);
  CHECK(writer(ig, "cat").inputs == Strings{"same_q", "xq_q"});
  CHECK(ig.tensor("flat").view_of == "cat");

  // Every step is exact here: both interpreters give the same numbers.
  const TensorMap in{
      {"x", make_f32("x", {1, 2, 2, 2}, {-0.8f, -0.1f, 0.0f, 0.05f, 0.3f, 0.71f, 1.2f, -2.0f})},
      {"xi", make_ints("xi", {1, 2, 2, 2}, ElemType::I8, {-128, -5, 0, 3, 7, 50, 100, 127})}};
  const TensorMap fp = run_fp32(g, in);
  const IntRun run = run_int(ig, quantize_inputs(ig, in));
  for (size_t i = 0; i < ig.outputs.size(); ++i) {
    INFO(ig.outputs[i]);
    const std::vector<float> dq = dequantize(run.values.at(ig.outputs[i]));
    CHECK(dq == fp.at(ig.float_outputs[i]).f32);
  }
}
