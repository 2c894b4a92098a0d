// The back end's split reductions (compiler/codegen_ksplit*.cpp): matmuls and dense convs whose
// weights for one output channel per lane exceed a lane, on every preset, against run_int; and the
// refusal when a partial sum could saturate int32.
#include <catch2/catch.hpp>
#include <cmath>

#include "isa/semantics.h"
#include "tests/compiler/backend_helpers.h"

using namespace betest;

namespace {

// [rows, k] x [n, k]^T whose weights for one column per lane exceed a lane: k = 1.3 lanes' bytes.
IntGraph wide_fc(Rng& r, const Arch& a, DType w_dtype, int64_t wmax) {
  IMatmul m;
  m.w_dtype = w_dtype;
  const int64_t per_byte = is_4bit(w_dtype) ? 2 : 1;
  const int64_t rows = pick(r, 1, 3), k = int64_t(a.lane_bytes) * per_byte * 13 / 10 + pick(r, 0, 9),
                n = pick(r, 3, int64_t(a.lanes) + 3);
  for (int64_t i = 0; i < n * k; ++i) m.weight.push_back(static_cast<int8_t>(pick(r, -wmax, wmax)));
  m.w_scale.assign(static_cast<size_t>(n), 0.01f);
  for (int64_t j = 0; j < n; ++j) m.bias.push_back(static_cast<int32_t>(pick(r, -5000, 5000)));
  const ITensor x = tensor("x", {rows, k}, act_type(r), r);
  const ITensor y = tensor("y", {rows, n}, act_type(r), r);
  m.in_zp = x.zero_point;
  const double span = double(traits(y.dtype).qmax - traits(y.dtype).qmin);
  return one_op({x}, y, m,
                requant(r, pick(r, 0, 1) ? n : 1, span / (std::sqrt(double(k)) * wmax * 200.0), y));
}

}  // namespace

TEST_CASE("back end: a matmul too wide for LMEM splits its reduction into int32 partial sums, bit-exact",
          "[backend][ksplit]") {
  Rng r(77);
  for (const char* preset : {"edge", "default", "server"}) {
    const Arch& a = arch_preset(preset);
    for (DType wt : {DType::Int8, DType::Int4}) {
      const IntGraph g = wide_fc(r, a, wt, is_4bit(wt) ? 7 : 20);
      INFO(preset << " " << name(wt) << " in " << shape_str(g.tensors.at("x").shape) << " out "
                  << shape_str(g.tensors.at("y").shape));
      const BitexactResult res = check_bitexact(g, a, std::string(preset) == "edge", 5);
      // Chunks were added into the accumulator by eltwise adds, and requantized by requant.
      CHECK(res.stats.opcode_counts.count("eltwise") == 1);
      CHECK(res.stats.opcode_counts.count("requant") == 1);
      CHECK(res.stats.acc_overflows == 0);
    }
  }
}

TEST_CASE("back end: a split reduction that could saturate int32 is refused in one line",
          "[backend][ksplit]") {
  Rng r(78);
  const Arch& a = arch_preset("server");
  const IntGraph g = wide_fc(r, a, DType::Int8, 127);  // 127 * 255 * 340,000 > 2^31
  CHECK_THROWS_WITH(compile_int_graph(g, a, nullptr, 0),
                    Catch::Contains("could saturate int32 partial sums") && Catch::Contains("refused"));
}

TEST_CASE("back end: a dense conv too wide for LMEM splits its input channels into int32 partial sums",
          "[backend][ksplit]") {
  Rng r(79);
  const Arch& a = arch_preset("edge");
  for (int i = 0; i < 4; ++i) {
    const bool four = i % 2 == 1;
    IConv c;
    c.kernel[0] = c.kernel[1] = 3, c.pads[0] = c.pads[1] = c.pads[2] = c.pads[3] = 1;
    c.stride[0] = c.stride[1] = 1 + i / 2;
    c.w_dtype = four ? DType::Int4 : DType::Int8;
    // ic * 9 weights per output channel: 1.2 lanes' bytes.
    const int64_t ic = int64_t(a.lane_bytes) * (four ? 2 : 1) * 12 / 90 + i, oc = pick(r, 3, 12),
                  h = pick(r, 5, 9);
    const int64_t wmax = four ? 7 : 20;
    for (int64_t k = 0; k < oc * ic * 9; ++k) c.weight.push_back(static_cast<int8_t>(pick(r, -wmax, wmax)));
    c.w_scale.assign(static_cast<size_t>(oc), 0.01f);
    for (int64_t o = 0; o < oc; ++o) c.bias.push_back(static_cast<int32_t>(pick(r, -5000, 5000)));
    const ITensor x = tensor("x", {1 + i % 2, ic, h, h + 1}, act_type(r), r);
    const int64_t oh = window_out(h, 1, 1, 3, c.stride[0], 1),
                  ow = window_out(h + 1, 1, 1, 3, c.stride[1], 1);
    const ITensor y = tensor("y", {1 + i % 2, oc, oh, ow}, act_type(r), r);
    c.in_zp = x.zero_point;
    const double span = double(traits(y.dtype).qmax - traits(y.dtype).qmin);
    const IntGraph g =
        one_op({x}, y, c, requant(r, pick(r, 0, 1) ? oc : 1, span / (std::sqrt(ic * 9.0) * wmax * 200.0), y));
    INFO("case " << i << " in " << shape_str(x.shape) << " out " << shape_str(y.shape));
    const BitexactResult res = check_bitexact(g, a, i == 0, 9 + static_cast<uint32_t>(i));
    CHECK(res.stats.opcode_counts.count("eltwise") == 1);
    CHECK(res.stats.opcode_counts.count("requant") == 1);
    CHECK(res.stats.acc_overflows == 0);
  }
}
