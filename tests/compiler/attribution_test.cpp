// Error attribution (compiler/attribution.h, docs/compare.md "Attribution"): every source off is
// the FP32 interpreter bit for bit, each source alone on a Gemm whose values are worked out by hand,
// every source on is the integer reference bit for bit (op by op and chained over whole models),
// and the shares of a layer's error energy add up to 1.
#include "compiler/attribution.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <string_view>

#include "base/file_io.h"
#include "compiler/compare.h"
#include "quant/quantize.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

const std::string kDir = std::string(TPUSIM_BINARY_DIR) + "/tests/attribution_models/";

std::string save(const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(kDir);
  write_file_atomic(kDir + name, std::string_view(bytes));
  return kDir + name;
}

NpyArray images(std::vector<int64_t> shape, unsigned seed) {
  std::mt19937 rng(seed);
  return make_npy_f32(shape, uniform(rng, static_cast<size_t>(num_elements(shape)), -1.0f, 1.0f));
}

// y = x . w + b over two inputs, as the FP32 interpreter's Gemm sums (kernels::gemm).
float gemm2(float x0, float x1, float w0, float w1, float b) {
  float acc = 0.0f;
  acc += x0 * w0;
  acc += x1 * w1;
  float v = 1.0f * acc;
  v += 1.0f * b;
  return v;
}

// The hand sums above may be contracted into fused multiply-adds by one compiler (clang) where the
// interpreter's kernel is not, a few float steps apart: compared within kHand (relative), far below
// every source's effect checked here (>= 2e-5 relative). Off == FP32 is checked exactly.
constexpr double kHand = 1e-6;
Approx hand(float x0, float x1, float w0, float w1, float b) {
  return Approx(gemm2(x0, x1, w0, w1, b)).epsilon(kHand);
}

// x [1, 2] -> Gemm(w [1, 2], b) -> g: input grid 0.5 (int8), weights 0.02 (int8, range
// [-2.56, 2.54]), bias at 0.5 * 0.02 = 0.01, output grid 0.3 (int8, range [-38.4, 38.1]).
std::string hand_gemm(bool qdq, int64_t w0 = 17) {
  ModelBuilder b;
  b.input("x", {1, 2}).output(qdq ? "y" : "g");
  const std::string x = qdq ? add_qdq(b, "x", "xd", 0.5f, 0, kInt8) : "x";
  const std::string w = qdq ? add_dq_const(b, "w", {1, 2}, kInt8, {w0, -128}, {0.02f})  // Q(0.331), Q(-2.6)
                            : b.f32("w", {1, 2}, {0.331f, -2.6f});
  const std::string bias = qdq ? add_dq_const(b, "b", {1}, kInt32, {12}, {0.5f * 0.02f})  // Q(0.1234) = 12
                               : b.f32("b", {1}, {0.1234f});
  attr(b.node("Gemm", {x, w, bias}, "g"), "transB", int64_t{1});
  if (qdq) add_qdq(b, "g", "y", 0.3f, 0, kInt8);
  return b.bytes();
}

// The FP32 values of the op's inputs, one run.
std::vector<std::vector<float>> fp32_inputs(const LayerEmulation& em, const CompareRun& run) {
  std::vector<std::vector<float>> in;
  for (const std::string& f : em.float_inputs()) in.push_back(run.fp32.at(f).f32);
  return in;
}

// The integer op on real inputs quantized as the host quantizes an input, dequantized.
std::vector<float> int_op_on(const IntGraph& g, const IOp& op, const std::vector<std::vector<float>>& in) {
  IntValues v;
  for (size_t i = 0; i < op.inputs.size(); ++i) {
    const ITensor& t = g.tensor(op.inputs[i]);
    IntValue& q = v[op.inputs[i]] = IntValue{t.shape, t.dtype, t.scale, t.zero_point, {}};
    for (float x : in[i]) q.data.push_back(quantize_linear(x, t.scale, t.zero_point, t.dtype));
  }
  run_int_op(g, op, v);
  return dequantize(v.at(op.output));
}

}  // namespace

TEST_CASE("attribution: each source alone on a Gemm computed by hand", "[attribution]") {
  CompareInputs ci;
  ci.model = save("hand_qdq.onnx", hand_gemm(true));
  ci.fp32_model = save("hand_fp32.onnx", hand_gemm(false));
  const float x0 = 1.3f, x1 = 70.0f;
  ci.input = make_npy_f32({1, 2}, std::vector<float>{x0, x1});
  const CompareRun run = run_compare(ci);
  REQUIRE(run.graph.ops.size() == 1);
  const LayerEmulation em(run.graph, run.graph.ops[0], run.fp32_graph);
  CHECK(em.float_inputs() == std::vector<std::string>{"x"});
  CHECK(em.float_output() == "g");
  const std::vector<std::vector<float>> in = fp32_inputs(em, run);
  auto alone = [&](Source s) { return em.run(in, Sources::only(s)).at(0); };
  const float z = gemm2(x0, x1, 0.331f, -2.6f, 0.1234f);  // 0.4303 - 182 + 0.1234 = -181.4463
  CHECK(z == Approx(-181.4463).epsilon(1e-6));
  // Off: the FP32 run itself.
  CHECK(em.run(in, Sources::none()) == run.fp32.at("g").f32);
  CHECK(em.run(in, Sources::none()).at(0) == Approx(z).epsilon(kHand));
  // Inputs: 1.3 / 0.5 = 2.6 rounds to 3 (1.5); 70 / 0.5 = 140 clips to 127 (63.5).
  CHECK(alone(Source::InputRounding) == hand(1.5f, 70.0f, 0.331f, -2.6f, 0.1234f));
  CHECK(alone(Source::InputClipping) == hand(x0, 63.5f, 0.331f, -2.6f, 0.1234f));
  // Weights: 0.331 / 0.02 = 16.55 rounds to 17 (0.34), -2.6 / 0.02 = -130 is on the grid (but
  // outside the range); clipped: -2.6 to -128 * 0.02 = -2.56.
  CHECK(alone(Source::WeightRounding) ==
        hand(x0, x1, 17.0f * 0.02f, std::nearbyint(-2.6f / 0.02f) * 0.02f, 0.1234f));
  CHECK(alone(Source::WeightClipping) == hand(x0, x1, 0.331f, -128.0f * 0.02f, 0.1234f));
  // Bias: 12 steps of 0.01.
  CHECK(alone(Source::BiasRounding) ==
        hand(x0, x1, 0.331f, -2.6f, static_cast<float>(12 * (0.5 * static_cast<double>(0.02f)))));
  CHECK(alone(Source::BiasRounding) == Approx(z - 0.0034).epsilon(1e-6));
  // Requant: -181.4463 / 0.3 = -604.82 rounds to -605. Output clipping: to -128 * 0.3 = -38.4.
  CHECK(alone(Source::Requant) == -605.0f * 0.3f);
  CHECK(alone(Source::OutputClipping) == -128.0f * 0.3f);
  // Multiplier: the scale ratio 0.5 * 0.02 / 0.3 = 0.0333 = 0.533 * 2^-4 as M0 * 2^-35, M0 =
  // round(ratio * 2^35).
  const double ratio = 0.5 * static_cast<double>(0.02f) / static_cast<double>(0.3f);
  const double k = std::ldexp(static_cast<double>(std::llround(std::ldexp(ratio, 35))), -35) / ratio;
  CHECK(alone(Source::Multiplier) == Approx(static_cast<double>(z) * k).epsilon(kHand));
  CHECK(k != 1.0);  // 1 + 3.3e-10: below a float step of z, so the output does not move
  CHECK(alone(Source::Multiplier) == em.run(in, Sources::none()).at(0));  // exactly: it does not move
  // Every source: 3 * 17 + 127 * -128 + 12 = -16193; -16193 * 0.0333 = -539.77 -> -540 -> clamp -128.
  CHECK(em.run(in, Sources::all()).at(0) == -128.0f * 0.3f);
  CHECK(run.ref.values.at(run.graph.ops[0].output).data == std::vector<int32_t>{-128});
  // All on but output clipping: the integer accumulator, requantized without the clamp.
  Sources no_clip = Sources::all();
  no_clip.on[static_cast<size_t>(Source::OutputClipping)] = false;
  CHECK(em.run(in, no_clip).at(0) == -540.0f * 0.3f);
}

TEST_CASE("attribution: weights the quantized model moved (QAT) are the weight update", "[attribution]") {
  CompareInputs ci;
  ci.model = save("hand_qdq_moved.onnx", hand_gemm(true, 15));  // two steps below Q(0.331) = 17
  ci.fp32_model = save("hand_fp32.onnx", hand_gemm(false));
  ci.input = make_npy_f32({1, 2}, std::vector<float>{1.3f, 70.0f});
  const CompareRun run = run_compare(ci);
  const LayerEmulation em(run.graph, run.graph.ops[0], run.fp32_graph);
  const std::vector<std::vector<float>> in = fp32_inputs(em, run);
  // Alone: the FP32 weight moved by -2 steps, 0.331 - 0.04 (the FP32 weight -2.6 is not moved).
  CHECK(em.run(in, Sources::only(Source::WeightUpdate)).at(0) ==
        hand(1.3f, 70.0f, 0.331f + -2.0f * 0.02f, -2.6f, 0.1234f));
  // Rounding and clipping without the update: the FP32 weights' own grid values 17, -128.
  Sources rc;
  rc.on[static_cast<size_t>(Source::WeightRounding)] = rc.on[static_cast<size_t>(Source::WeightClipping)] =
      true;
  CHECK(em.run(in, rc).at(0) == gemm2(1.3f, 70.0f, 17.0f * 0.02f, -128.0f * 0.02f, 0.1234f));
  // Every source: 3 * 15 + 127 * -128 + 12 = -16199 -> -539.97 -> -540 -> clamp -128; the
  // integer reference's value.
  CHECK(em.run(in, Sources::all()).at(0) == -128.0f * 0.3f);
  CHECK(run.ref.values.at(run.graph.ops[0].output).data == std::vector<int32_t>{-128});
  Sources no_clip = Sources::all();
  no_clip.on[static_cast<size_t>(Source::OutputClipping)] = false;
  CHECK(em.run(in, no_clip).at(0) == -540.0f * 0.3f);
}

TEST_CASE("attribution: every source off is FP32, every source on the integer reference", "[attribution]") {
  std::vector<CompareInputs> cases;
  for (const TestModel& m :
       {test_model("qdq_int8", 1), test_model("qdq_uint8", 1), test_model("qdq_int4", 1), qdq_depthwise(1)}) {
    CompareInputs in;
    in.model = save("zoo_" + m.name + ".onnx", m.bytes);
    std::vector<int64_t> shape = m.input_shape;
    shape[0] = 3;
    in.input = images(shape, 11);
    cases.push_back(in);
  }
  for (const char* name : {"conv_bn_relu_pool", "residual", "mlp"})
    for (const char* bits : {"w8a8", "w4a4"}) {
      const TestModel m = test_model(name, 1);
      CompareInputs in;
      in.model = save(std::string("fp32_") + name + ".onnx", m.bytes);
      std::vector<int64_t> shape = m.input_shape;
      shape[0] = 8;
      in.calib = images(shape, 7);
      shape[0] = 3;
      in.input = images(shape, 8);
      parse_bits(bits, in.calib_config);
      cases.push_back(in);
    }
  size_t same_grid_pools = 0;
  for (const CompareInputs& ci : cases) {
    INFO(ci.model << (ci.calib ? " calibrated" : ""));
    const CompareRun run = run_compare(ci);
    REQUIRE(run.runs == 1);
    const IntGraph& g = run.graph;
    // Chained: every op on the emulation's own outputs, every source on.
    std::map<std::string, std::vector<float>> chained;
    for (size_t i = 0; i < g.inputs.size(); ++i)
      chained[g.inputs[i]] = dequantize(run.ref.values.at(g.inputs[i]));
    size_t attributed = 0;
    for (const IOp& op : g.ops) {
      INFO(op.output << " (" << kind_name(op) << ")");
      const LayerEmulation em(g, op, run.fp32_graph);
      ++attributed;
      const std::vector<std::vector<float>> in = fp32_inputs(em, run);
      CHECK(em.run(in, Sources::none()) == run.fp32.at(em.float_output()).f32);
      // On the FP32 inputs quantized as the host quantizes an input: run_int_op, bit for bit.
      CHECK(em.run(in, Sources::all()) == int_op_on(g, op, in));
      std::vector<std::vector<float>> prev;
      for (const std::string& name : op.inputs) prev.push_back(chained.at(g.storage(name)));
      chained[op.output] = em.run(prev, Sources::all());
      CHECK(chained[op.output] == dequantize(run.ref.values.at(op.output)));
      // A max pool onto its input's own grid rounds and clips nothing of its own: requant and
      // output clipping alone leave the FP32 values, and so do the weight sources (it has none).
      const IPool* pool = op.as<IPool>();
      const ITensor &x = g.tensor(op.inputs[0]), &y = g.tensor(op.output);
      if (pool && pool->mode == PoolMode::Max && x.scale == y.scale && x.zero_point == y.zero_point &&
          x.dtype == y.dtype) {
        ++same_grid_pools;
        for (Source src :
             {Source::Requant, Source::OutputClipping, Source::Multiplier, Source::WeightRounding})
          CHECK(em.run(in, Sources::only(src)) == run.fp32.at(em.float_output()).f32);
      }
    }
    CHECK(attributed == g.ops.size());
  }
  CHECK(same_grid_pools > 0);
}

TEST_CASE("attribution: the shares of each layer's error energy add up to 1", "[attribution]") {
  const TestModel m = test_model("conv_bn_relu_pool", 1);
  CompareInputs ci;
  ci.model = save("fp32_conv_bn_relu_pool.onnx", m.bytes);
  std::vector<int64_t> shape = m.input_shape;
  shape[0] = 8;
  ci.calib = images(shape, 7);
  ci.input = images(shape, 9);
  parse_bits("w4a4", ci.calib_config);
  const CompareRun run = run_compare(ci);
  CompareResult r = compare_layers(run.graph, run.ref.values, run.fp32);
  attribute_compare(r, run);
  size_t n = 0;
  for (const LayerError& e : r.layers) {
    if (e.op == "input") continue;
    INFO(e.name);
    REQUIRE(e.attribution);
    const Attribution& a = *e.attribution;
    ++n;
    CHECK(a.fp32_deviation == 0.0);
    // The total is the comparison's own error: SQNR from the same energy.
    double xx = 0;
    for (float x : run.fp32.at(e.float_name).f32) xx += static_cast<double>(x) * x;
    CHECK(10 * std::log10(xx / a.total) == Approx(e.sqnr_db).epsilon(1e-9));
    const nlohmann::json j = a.to_json();
    double sum = 0;
    for (const char* k :
         {"weight_rounding", "weight_clipping", "weight_update", "bias_rounding", "input_rounding",
          "input_clipping", "requant", "multiplier", "output_clipping", "interaction", "upstream"})
      sum += j.at(k).get<double>();
    CHECK(sum == Approx(1.0).epsilon(1e-9));
    CHECK(j.at("rounding").get<double>() ==
          Approx(j.at("weight_rounding").get<double>() + j.at("bias_rounding").get<double>() +
                 j.at("input_rounding").get<double>()));
    CHECK(j.at("error_energy").at("total").get<double>() ==
          Approx(a.total / static_cast<double>(a.elements)));
    for (double e2 : a.alone) CHECK(e2 >= 0.0);
  }
  CHECK(n == run.graph.ops.size());
  // The first op reads the host-quantized image: nothing arrives from upstream.
  const LayerError& first = r.layers.at(1);
  CHECK(first.attribution->upstream() == 0.0);
  const std::string table = attribution_table(r);
  CHECK(table.find("upstream") != std::string::npos);
  CHECK(compare_csv(r).find(",attr_weight_rounding,") != std::string::npos);
  CHECK(compare_json(r)["layers"][1].contains("attribution"));
}

TEST_CASE("attribution: a ViT block's MatMuls of two activations, layernorms, softmax and constants",
          "[attribution][transformer]") {
  const TestModel m = transformer_forms(1, 17);
  CompareInputs ci;
  ci.model = save("fp32_transformer_forms.onnx", m.bytes);
  std::vector<int64_t> shape = m.input_shape;
  shape[0] = 8;
  ci.calib = images(shape, 7);
  shape[0] = 1;  // the model's batch is fixed (its class token is expanded to it)
  ci.input = images(shape, 8);
  const CompareRun run = run_compare(ci);
  REQUIRE(run.runs == 1);
  const IntGraph& g = run.graph;
  std::map<std::string, int> kinds;
  for (const IOp& op : g.ops) {
    if (!op.as<IActMatmul>() && !op.as<ILayerNorm>() && !op.as<ISoftmax>()) continue;
    INFO(op.output << " (" << kind_name(op) << ")");
    ++kinds[kind_name(op)];
    const LayerEmulation em(g, op, run.fp32_graph);
    const std::vector<std::vector<float>> in = fp32_inputs(em, run);
    CHECK(em.run(in, Sources::none()) == run.fp32.at(em.float_output()).f32);
    CHECK(em.run(in, Sources::all()) == int_op_on(g, op, in));
    // Their inputs are activations: rounding them alone moves the result; no weight source does.
    CHECK(em.run(in, Sources::only(Source::InputRounding)) != run.fp32.at(em.float_output()).f32);
    CHECK(em.run(in, Sources::only(Source::WeightRounding)) == run.fp32.at(em.float_output()).f32);
  }
  CHECK(kinds["act_matmul"] == 2);  // Q·K^T and P·V
  CHECK(kinds["layernorm"] == 3);
  CHECK(kinds["softmax"] == 1);
  // As `compare --attribute` runs it: every layer is attributed, the constant-reading ops (the
  // class token's Concat and requant, the position embedding's Add) with their constants' FP32
  // values.
  std::map<std::string, std::string> skipped;
  const auto layers = attribute_layers(g, run.fp32_graph, run.fp32, run.ref.values, run.runs, &skipped);
  for (const auto& [name, why] : skipped) FAIL_CHECK(name << ": " << why);
  int constant_readers = 0;
  for (const IOp& op : g.ops) {
    bool reads_constant = false;
    for (const std::string& in : op.inputs) reads_constant = reads_constant || !g.tensor(in).data.empty();
    constant_readers += reads_constant;
    CHECK(layers.count(op.output) == 1);
  }
  CHECK(constant_readers >= 2);
}
