// The integer reference interpreter: each integer op on numbers worked out by hand or by plain
// arithmetic here, and the cross-check against the FP32 interpreter running the same QDQ model
// (two independently written interpreters; the FP32 one performs ONNX Q/DQ exactly).
#include "compiler/int_interp.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <random>

#include "base/error.h"
#include "base/npz.h"
#include "compiler/int_kernels.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "quant/quantize.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;
using Ints = std::vector<int32_t>;

namespace {

ITensor tensor(const std::string& name, Shape shape, DType t, int32_t zp = 0, float scale = 1.0f) {
  return {name, std::move(shape), t, scale, zp, "", "", {}};
}

RequantSpec rq(double scale, int32_t zp, DType t) {
  return {{make_multiplier(scale)},
          zp,
          static_cast<int32_t>(traits(t).qmin),
          static_cast<int32_t>(traits(t).qmax)};
}

// Runs one op on the given inputs (in op.inputs order); returns the output's integers.
Ints run_one(IOp op, const std::vector<ITensor>& ins, const ITensor& out, const std::vector<Ints>& data,
             uint64_t* overflows = nullptr) {
  IntGraph g;
  g.source = "hand";
  IntValues values;
  for (size_t i = 0; i < ins.size(); ++i) {
    g.tensors[ins[i].name] = ins[i];
    g.inputs.push_back(ins[i].name);
    values[ins[i].name] = {ins[i].shape, ins[i].dtype, ins[i].scale, ins[i].zero_point, data[i]};
    op.inputs.push_back(ins[i].name);
  }
  g.tensors[out.name] = out;
  op.output = out.name;
  g.ops.push_back(op);
  const IntRun r = run_int(g, values);
  if (overflows) *overflows = r.acc_overflows.count(out.name) ? r.acc_overflows.at(out.name) : 0;
  return r.values.at(out.name).data;
}

}  // namespace

TEST_CASE("conv2d: a 2x2 kernel with zero-point padding, worked by hand", "[compiler][int_interp]") {
  IConv c;
  c.weight = {1, 2, 3, 4};
  c.w_scale = {1.0f};
  c.bias = {10};
  c.kernel[0] = c.kernel[1] = 2;
  c.pads[2] = c.pads[3] = 1;  // bottom, right: the padding holds in_zp and adds nothing
  c.in_zp = 1;
  IOp op{"conv", {}, {}, "", c, rq(0.5, 3, DType::Int8)};
  const Ints x{1, 2, 3, 4, 5, 6, 7, 8, 9};
  // Centred input rows {0 1 2} {3 4 5} {6 7 8}; out(0,0) = 10 + 0*1 + 1*2 + 3*3 + 4*4 = 37,
  // 37 * 0.5 = 18.5 rounds half up to 19, + zero point 3 = 22; and so on.
  CHECK(run_one(op, {tensor("x", {1, 1, 3, 3}, DType::Int8)}, tensor("y", {1, 1, 3, 3}, DType::Int8), {x}) ==
        Ints{22, 27, 17, 37, 42, 23, 18, 20, 12});

  // The int32 accumulator saturates once per output, counted.
  c.bias = {INT32_MAX - 10};
  uint64_t overflows = 0;
  IOp big{"conv", {}, {}, "", c, {{Multiplier{}}, 0, INT32_MIN, INT32_MAX}};
  const Ints y = run_one(big, {tensor("x", {1, 1, 3, 3}, DType::Int8)},
                         tensor("y", {1, 1, 3, 3}, DType::Int32), {x}, &overflows);
  CHECK(y[0] == INT32_MAX);
  CHECK(y[8] == INT32_MAX - 2);  // 8 < 10: no saturation
  CHECK(overflows == 8);
}

TEST_CASE("matmul, max pool, eltwise mul and concat on small numbers", "[compiler][int_interp]") {
  IMatmul m;
  m.weight = {1, 0, -1, 2, 2, 2};  // [2 columns][3]
  m.bias = {5, -5};
  m.in_zp = 1;
  // Rows centred {0 1 2} and {3 4 5}: {0-2+5, 0+2+4-5} and {3-5+5, 6+8+10-5}.
  CHECK(run_one({"mm", {}, {}, "", m, rq(1.0, 0, DType::Int8)}, {tensor("x", {2, 3}, DType::Int8)},
                tensor("y", {2, 2}, DType::Int8), {{1, 2, 3, 4, 5, 6}}) == Ints{3, 1, 3, 19});

  IPool p;
  p.kernel[0] = p.kernel[1] = 2;
  p.pads[2] = p.pads[3] = 1;  // max ignores padding
  p.in_zp = -2;
  CHECK(run_one({"mp", {}, {}, "", p, rq(1.0, -2, DType::Int8)}, {tensor("x", {1, 1, 2, 2}, DType::Int8)},
                tensor("y", {1, 1, 2, 2}, DType::Int8), {{-5, 7, 3, -1}}) == Ints{7, 7, 3, -1});

  IEltwise e;
  e.op = EltOp::Mul;
  e.b_zp = 10;
  // (3 * (12 - 10)) * 0.5 + 1 = 4; (-4 * (5 - 10)) * 0.5 + 1 = 11.
  CHECK(run_one({"mul", {}, {}, "", e, rq(0.5, 1, DType::Int8)},
                {tensor("a", {1, 2}, DType::Int8), tensor("b", {1, 2}, DType::UInt8, 10)},
                tensor("y", {1, 2}, DType::Int8), {{3, -4}, {12, 5}}) == Ints{4, 11});

  CHECK(run_one({"cat", {}, {}, "", IConcat{1}, {}},
                {tensor("a", {1, 1, 1, 2}, DType::Int8), tensor("b", {1, 1, 1, 2}, DType::Int8)},
                tensor("y", {1, 2, 1, 2}, DType::Int8), {{1, 2}, {3, 4}}) == Ints{1, 2, 3, 4});
}

TEST_CASE("eltwise broadcasts an [N, C, 1, 1] or [N, C] operand over h and w", "[compiler][int_interp]") {
  IEltwise e;
  e.op = EltOp::Mul;
  // a [1, 2, 1, 2] * b [1, 2, 1, 1]: channel 0 times 3, channel 1 times -2.
  const Ints a{1, 2, 3, 4}, want{3, 6, -6, -8};
  CHECK(run_one({"mul", {}, {}, "", e, rq(1.0, 0, DType::Int8)},
                {tensor("a", {1, 2, 1, 2}, DType::Int8), tensor("b", {1, 2, 1, 1}, DType::Int8)},
                tensor("y", {1, 2, 1, 2}, DType::Int8), {a, {3, -2}}) == want);
  // The broadcast one first, as [N, C]; an add with a zero point on it, over two images.
  e.op = EltOp::Add;
  e.a_zp = 1;
  CHECK(run_one({"add", {}, {}, "", e, rq(1.0, 0, DType::Int8)},
                {tensor("s", {2, 2}, DType::Int8, 1), tensor("x", {2, 2, 2, 1}, DType::Int8)},
                tensor("y", {2, 2, 2, 1}, DType::Int8),
                {{11, 21, 31, 41}, {1, 2, 3, 4, 5, 6, 7, 8}}) == Ints{11, 12, 23, 24, 35, 36, 47, 48});
  CHECK_THROWS_WITH(
      run_one({"add", {}, {}, "", e, rq(1.0, 0, DType::Int8)},
              {tensor("s", {1, 2, 2, 1}, DType::Int8), tensor("x", {1, 2, 2, 2}, DType::Int8)},
              tensor("y", {1, 2, 2, 2}, DType::Int8), {Ints(4), Ints(8)}),
      "eltwise: input a has shape [1, 2, 2, 1], neither the output's [1, 2, 2, 2] nor [N, C, 1, 1]");
}

TEST_CASE("lut maps each code through its table: int8 and int4, signed and unsigned",
          "[compiler][int_interp]") {
  ILut neg;  // int8 -> int8: -q saturated; entry i is the output of code i - 128
  for (int i = 0; i < 256; ++i) neg.table.push_back(std::min(127, 128 - i));
  CHECK(run_one({"neg", {}, {}, "", neg, {}}, {tensor("x", {1, 4}, DType::Int8)},
                tensor("y", {1, 4}, DType::Int8), {{-128, -1, 0, 100}}) == Ints{127, 1, 0, -100});
  ILut up;  // int4 -> uint8: 16 * (q + 8)
  for (int i = 0; i < 16; ++i) up.table.push_back(16 * i);
  CHECK(run_one({"up", {}, {}, "", up, {}}, {tensor("x", {1, 1, 1, 3}, DType::Int4)},
                tensor("y", {1, 1, 1, 3}, DType::UInt8), {{-8, 0, 7}}) == Ints{0, 128, 240});
  ILut down;  // uint8 -> uint4: q / 16
  for (int i = 0; i < 256; ++i) down.table.push_back(i / 16);
  CHECK(run_one({"down", {}, {}, "", down, {}}, {tensor("x", {3}, DType::UInt8)},
                tensor("y", {3}, DType::UInt4), {{0, 17, 255}}) == Ints{0, 1, 15});
  CHECK_THROWS_WITH(run_one({"bad", {}, {}, "", up, {}}, {tensor("x", {2}, DType::Int8)},
                            tensor("y", {2}, DType::UInt8), {{0, 0}}),
                    "lut: table has 16 entries, a int8 input needs 2^bits of them");
  CHECK_THROWS_WITH(run_one({"bad", {}, {}, "", up, {}}, {tensor("x", {2}, DType::Int4)},
                            tensor("y", {2}, DType::Int4), {{0, 0}}),
                    "lut: table[1] = 16 is outside the output type int4");
  CHECK(std::string(kind_name(IOp{"l", {}, {}, "", neg, {}})) == "lut");
}

TEST_CASE("gather copies input channels into output channels, repeats allowed", "[compiler][int_interp]") {
  // x [2, 3, 1, 2]: image n, channel c holds {100n + 10c, 100n + 10c + 1}.
  const Ints x{0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121};
  IGather gt{{2, 0, 2, 1}};
  CHECK(run_one({"g", {}, {}, "", gt, {}}, {tensor("x", {2, 3, 1, 2}, DType::Int8, 3, 0.5f)},
                tensor("y", {2, 4, 1, 2}, DType::Int8, 3, 0.5f),
                {x}) == Ints{20, 21, 0, 1, 20, 21, 10, 11, 120, 121, 100, 101, 120, 121, 110, 111});
  // 2-D [N, C] uint4: the second half of the channels (a Slice), then a channel shuffle of 4.
  CHECK(run_one({"slice", {}, {}, "", IGather{{2, 3}}, {}}, {tensor("x", {2, 4}, DType::UInt4)},
                tensor("y", {2, 2}, DType::UInt4), {{1, 2, 3, 4, 5, 6, 7, 8}}) == Ints{3, 4, 7, 8});
  CHECK(run_one({"shuffle", {}, {}, "", IGather{{0, 2, 1, 3}}, {}}, {tensor("x", {1, 4}, DType::Int4)},
                tensor("y", {1, 4}, DType::Int4), {{-8, -1, 0, 7}}) == Ints{-8, 0, -1, 7});
  CHECK(std::string(kind_name(IOp{"g", {}, {}, "", gt, {}})) == "gather");
  CHECK_THROWS_WITH(run_one({"g", {}, {}, "", IGather{{0, 3}}, {}}, {tensor("x", {1, 3}, DType::Int8)},
                            tensor("y", {1, 2}, DType::Int8), {{1, 2, 3}}),
                    "gather: channel 3 is outside [0, 3)");
  CHECK_THROWS_WITH(run_one({"g", {}, {}, "", IGather{{0, 1}}, {}}, {tensor("x", {1, 3}, DType::Int8)},
                            tensor("y", {1, 3}, DType::Int8), {{1, 2, 3}}),
                    "gather: 2 channels of input [1, 3] make [1, 2], the output is [1, 3]");
  CHECK_THROWS_WITH(run_one({"g", {}, {}, "", IGather{{0}}, {}}, {tensor("x", {1, 3}, DType::Int8)},
                            tensor("y", {1, 1}, DType::Int8, 1), {{1, 2, 3}}),
                    Catch::Contains("gather: output (int8, scale 1, zero point 1) differs from the input"));
}

TEST_CASE("average pool with and without counting padding", "[compiler][int_interp]") {
  IPool p;
  p.mode = PoolMode::Avg;
  p.kernel[0] = p.kernel[1] = p.stride[0] = p.stride[1] = 2;
  p.pads[0] = p.pads[1] = p.pads[2] = p.pads[3] = 1;
  const ITensor x = tensor("x", {1, 1, 3, 3}, DType::UInt8), y = tensor("y", {1, 1, 2, 2}, DType::UInt8);
  const Ints data{10, 20, 30, 40, 50, 60, 70, 80, 91};
  // Windows: {10}, {20, 30}, {40, 70}, {50, 60, 80, 91}. Divided by 4 (count_pad): 2.5, 12.5,
  // 27.5, 70.25 -> 3, 13, 28, 70 (ties away from zero); by the real pixels: 10, 25, 55, 70.25 -> 70.
  p.count_pad = true;
  CHECK(run_one({"ap", {}, {}, "", p, rq(1.0, 0, DType::UInt8)}, {x}, y, {data}) == Ints{3, 13, 28, 70});
  p.count_pad = false;
  CHECK(run_one({"ap", {}, {}, "", p, rq(1.0, 0, DType::UInt8)}, {x}, y, {data}) == Ints{10, 25, 55, 70});
  // Negative sums round away from zero too: centred at 20, (10 - 20) / 4 = -2.5 -> -3.
  p.count_pad = true;
  p.in_zp = 20;
  CHECK(run_one({"ap", {}, {}, "", p, rq(1.0, 20, DType::UInt8)}, {x}, y, {data})[0] == 17);
}

TEST_CASE("residual add of two scales, lowered from QDQ, worked by hand", "[compiler][int_interp]") {
  ModelBuilder b;
  b.input("a", {1, 1, 1, 5}).input("b", {1, 1, 1, 5}).output("y");
  add_qdq(b, "a", "aq", 0.1f, 0, kInt8);
  add_qdq(b, "b", "bq", 0.05f, 128, kUInt8);
  b.node("Add", {"aq", "bq"}, "s", "add");
  add_qdq(b, "s", "y", 0.2f, -5, kInt8);
  const IntGraph g = lower_qdq(import_model(b.bytes()));
  const IEltwise& e = *g.ops.at(0).as<IEltwise>();
  // 0.05f is exactly half of 0.1f and 0.2f exactly twice: every multiplier is a power of two.
  CHECK(e.a_rescale.rel_error == 0);
  CHECK(e.b_rescale.rel_error == 0);
  CHECK(g.ops[0].rq.mult[0].rel_error == 0);
  IntValues in;
  in["aq_q"] = {{1, 1, 1, 5}, DType::Int8, 0.1f, 0, {-128, -3, 50, 127, 1}};
  in["bq_q"] = {{1, 1, 1, 5}, DType::UInt8, 0.05f, 128, {0, 130, 255, 77, 128}};
  // y = round_half_up(qa * 0.1 / 0.2 + (qb - 128) * 0.05 / 0.2) - 5:
  // -64 - 32 = -96 -> -101; -1.5 + 0.5 = -1 -> -6; 25 + 31.75 -> 57 -> 52; 63.5 - 12.75 -> 51 -> 46;
  // 0.5 + 0 -> 1 -> -4.
  CHECK(run_int(g, in).values.at("y_q").data == Ints{-101, -6, 52, 46, -4});
}

TEST_CASE("Conv + ReLU6 lowered from QDQ against plain arithmetic", "[compiler][int_interp]") {
  ModelBuilder b;
  b.input("x", {1, 1, 3, 3}).output("y");
  add_qdq(b, "x", "xq", 0.02f, 0, kInt8);
  const std::vector<int64_t> w{100, -50, 120, 127, -128, 90, 60, -70};
  const std::vector<float> sw{0.01f, 0.005f};
  add_dq_const(b, "w", {2, 1, 2, 2}, kInt8, w, sw);
  b.node("Conv", {"xq", "w", b.f32("bias", {2}, {0.1f, -0.05f})}, "c", "conv");
  b.node("Clip", {"c", b.scalar("lo", 0.0f), b.scalar("hi", 6.0f)}, "c6", "relu6");
  add_qdq(b, "c6", "y", 0.03f, 10, kUInt8);
  const IntGraph g = lower_qdq(import_model(b.bytes()));
  const Ints x{127, 90, -128, 64, 127, 3, -7, 127, 100};
  IntValues in{{"xq_q", {{1, 1, 3, 3}, DType::Int8, 0.02f, 0, x}}};
  const Ints y = run_int(g, in).values.at("y_q").data;
  const int32_t bias[2] = {500, -500};  // round(b / (s_in * s_w[c]))
  int hit_lo = 0, hit_hi = 0;
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        int64_t acc = bias[o];
        for (int ky = 0; ky < 2; ++ky)
          for (int kx = 0; kx < 2; ++kx) acc += x[(i + ky) * 3 + j + kx] * w[o * 4 + ky * 2 + kx];
        const double real = static_cast<double>(acc) * 0.02f * sw[o] / 0.03f;
        REQUIRE(std::fabs(real - std::floor(real) - 0.5) > 1e-6);  // no tie: M0's 2^-31 error cannot matter
        const double q = std::clamp(std::floor(real + 0.5) + 10, 10.0, 210.0);  // ReLU6: [Q(0), Q(6)]
        hit_lo += q == 10;
        hit_hi += q == 210;
        CHECK(y[o * 4 + i * 2 + j] == q);
      }
  CHECK(hit_lo > 0);  // both clamps are exercised
  CHECK(hit_hi > 0);
}

TEST_CASE("per-layer dump: integers and dequantized floats", "[compiler][int_interp]") {
  const Graph g = import_model(test_model("qdq_int4", 2).bytes, 2);
  const IntGraph ig = lower_qdq(g);
  std::mt19937 rng(12);
  const TensorMap in{{"x", make_f32("x", {2, 1, 10, 10}, uniform(rng, 200, -1.0f, 1.0f))}};
  const IntRun run = run_int(ig, quantize_inputs(ig, in));
  const auto dir = std::filesystem::path(TPUSIM_BINARY_DIR) / "tests" / "compiler_lower_work";
  std::filesystem::create_directories(dir);
  save_int_dump(run, (dir / "int.npz").string());
  std::map<std::string, NpyArray> members;
  for (NpzMember& mem : load_npz((dir / "int.npz").string())) members[mem.name] = std::move(mem.array);
  // Inputs, op outputs and views, each twice.
  CHECK(members.size() == 2 * run.values.size());
  const NpyArray& q = members.at("r1q_q");  // uint4, stored as uint8
  CHECK(q.type == NpyType::U8);
  CHECK(q.shape == std::vector<int64_t>{2, 5, 10, 10});
  const NpyArray& f = members.at("y_q_dq");
  CHECK(f.type == NpyType::F32);
  const IntValue& y = run.values.at("y_q");
  for (size_t i = 0; i < y.data.size(); ++i)
    CHECK(f.at_f64(i) == dequantize_linear(y.data[i], y.scale, y.zero_point));
  CHECK(members.at("flat").shape == std::vector<int64_t>{2, 125});
}

TEST_CASE("integer inputs are checked", "[compiler][int_interp]") {
  const IntGraph ig = lower_qdq(import_model(test_model("qdq_int4", 1).bytes));
  IntValues in{{"xq_q", {{1, 1, 10, 10}, DType::Int8, 1, 0, std::vector<int32_t>(99, 0)}}};
  CHECK_THROWS_WITH(run_int(ig, in),
                    "m.onnx: input 'xq_q' has 99 elements, the model expects [1, 1, 10, 10] 100");
  in["xq_q"].data.assign(100, 200);
  CHECK_THROWS_WITH(run_int(ig, in), "m.onnx: input 'xq_q' holds 200, outside int8");
  CHECK_THROWS_WITH(run_int(ig, {}), "m.onnx: integer input 'xq_q' was not given");
}

// The conv kernel sums plane by plane and tap by tap (int32 per input channel when that cannot
// overflow); the definition is one output element at a time, written here. Random shapes with
// strides, dilations, asymmetric pads and groups; 8-bit inputs, and inputs far outside any 8-bit
// range (with 5+ taps the int64 path, saturating sums included); an int32 output grid (identity
// requant) so every sum, and the count of saturated ones, is compared.
TEST_CASE("conv2d kernel equals the one-output-at-a-time definition", "[compiler][int_interp]") {
  std::mt19937 rng(31);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  uint64_t saturated = 0;
  for (int iter = 0; iter < 200; ++iter) {
    IConv c;
    c.groups = pick(1, 3);
    const int64_t icg = pick(1, 4), ocg = pick(1, 3), N = pick(1, 2), H = pick(1, 9), W = pick(1, 9);
    c.kernel[0] = pick(1, 4), c.kernel[1] = pick(1, 4), c.stride[0] = pick(1, 3), c.stride[1] = pick(1, 3);
    c.dilation[0] = pick(1, 2), c.dilation[1] = pick(1, 2);
    for (int64_t& p : c.pads) p = pick(0, 3);
    const int64_t C = icg * c.groups, OC = ocg * c.groups;
    const int64_t OH = (H + c.pads[0] + c.pads[2] - c.dilation[0] * (c.kernel[0] - 1) - 1) / c.stride[0] + 1;
    const int64_t OW = (W + c.pads[1] + c.pads[3] - c.dilation[1] * (c.kernel[1] - 1) - 1) / c.stride[1] + 1;
    if (OH < 1 || OW < 1) continue;
    const bool wide = iter % 4 == 3;
    c.in_zp = static_cast<int32_t>(wide ? pick(-1000000, 1000000) : pick(-128, 127));
    for (int64_t i = 0; i < OC * icg * c.kernel[0] * c.kernel[1]; ++i)
      c.weight.push_back(int8_t(pick(-128, 127)));
    for (int64_t o = 0; o < OC; ++o) c.bias.push_back(static_cast<int32_t>(pick(-5000, 5000)));
    IntValue x{{N, C, H, W}, DType::Int8, 1.0f, c.in_zp, {}};
    for (int64_t i = 0; i < N * C * H * W; ++i)
      x.data.push_back(static_cast<int32_t>(wide ? pick(-3000000, 3000000) : pick(-128, 127)));
    IntValue y{{N, OC, OH, OW}, DType::Int32, 1.0f, 0, {}};
    const RequantSpec id{{Multiplier{1 << 30, 30}}, 0, INT32_MIN, INT32_MAX};
    const uint64_t overflows = int_kernels::conv(c, id, x, y);
    uint64_t want_overflows = 0;
    INFO("iteration " << iter);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < OC; ++o)
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox) {
            int64_t acc = c.bias[size_t(o)];
            for (int64_t ci = 0; ci < icg; ++ci)
              for (int64_t ky = 0; ky < c.kernel[0]; ++ky)
                for (int64_t kx = 0; kx < c.kernel[1]; ++kx) {
                  const int64_t iy = oy * c.stride[0] - c.pads[0] + ky * c.dilation[0];
                  const int64_t ix = ox * c.stride[1] - c.pads[1] + kx * c.dilation[1];
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                  const int64_t xv = x.data[size_t(((n * C + (o / ocg) * icg + ci) * H + iy) * W + ix)];
                  acc += (xv - c.in_zp) *
                         c.weight[size_t(((o * icg + ci) * c.kernel[0] + ky) * c.kernel[1] + kx)];
                }
            const int64_t want = std::clamp<int64_t>(acc, INT32_MIN, INT32_MAX);
            want_overflows += want != acc;
            REQUIRE(y.data[size_t(((n * OC + o) * OH + oy) * OW + ox)] == want);
          }
    REQUIRE(overflows == want_overflows);
    saturated += overflows;
  }
  CHECK(saturated > 0);
}
