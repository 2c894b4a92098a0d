// Rearrange (compiler/rearrange.h, pass_rewrite_rearrange.cpp): the strided views of Transpose,
// Slice and nearest Resize against index arithmetic written out here; what exporters write
// (torch.onnx's Upsample, NHWC permutes, strided slices) canonicalizes into them with values as
// ONNX defines; what a DMA cannot do is one line naming the node. ONNX Runtime checks the same
// ops in rearrange_ort_test.cpp, ONNX's node tests in tests/conformance.
#include "compiler/rearrange.h"

#include <catch2/catch.hpp>
#include <numeric>

#include "base/error.h"
#include "compiler/fp32_interp.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

std::vector<int> iota_ints(int64_t n) {
  std::vector<int> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::vector<int> apply(const RearrangeAttrs& a, const Shape& in) {
  const StridedView v = rearrange_view(a, in);
  const std::vector<int> x = iota_ints(num_elements(in));
  std::vector<int> y(static_cast<size_t>(num_elements(v.out)));
  copy_view(v, x.data(), y.data());
  return y;
}

}  // namespace

TEST_CASE("rearrange views: transpose, slice and upsample move the elements index arithmetic says",
          "[compiler][rearrange]") {
  RearrangeAttrs t;
  t.perm = {2, 0, 1};  // y[k, i, j] = x[i, j, k], x [2, 3, 4]
  const std::vector<int> yt = apply(t, {2, 3, 4});
  CHECK(rearrange_shape(t, {2, 3, 4}) == Shape{4, 2, 3});
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) CHECK(yt[static_cast<size_t>((k * 2 + i) * 3 + j)] == (i * 3 + j) * 4 + k);

  RearrangeAttrs s;  // rows 1, 3 and columns 2, 5 of x [2, 5, 7]
  s.kind = RearrangeAttrs::Kind::Slice;
  s.starts = {1, 1, 2}, s.steps = {1, 2, 3}, s.sizes = {1, 2, 2};
  CHECK(apply(s, {2, 5, 7}) == std::vector<int>{35 + 7 + 2, 35 + 7 + 5, 35 + 21 + 2, 35 + 21 + 5});

  RearrangeAttrs u;  // x [1, 2, 2] -> y [1, 4, 6]: y[0, i, j] = x[0, i / 2, j / 3]
  u.kind = RearrangeAttrs::Kind::Resize;
  u.scales = {1, 2, 3};
  const std::vector<int> yu = apply(u, {1, 2, 2});
  REQUIRE(yu.size() == 24);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 6; ++j) CHECK(yu[static_cast<size_t>(i * 6 + j)] == (i / 2) * 2 + j / 3);

  // Merged dims: an identity transpose is one contiguous run; an NCHW -> NHWC is three dims.
  RearrangeAttrs id;
  id.perm = {0, 1, 2, 3};
  CHECK(rearrange_view(id, {2, 3, 4, 5}).dims == std::vector<int64_t>{120});
  RearrangeAttrs nhwc;
  nhwc.perm = {0, 2, 3, 1};
  const StridedView v = rearrange_view(nhwc, {1, 8, 4, 5});
  CHECK(v.dims == std::vector<int64_t>{20, 8});  // h and w merge: they walk x contiguously
  CHECK(v.strides == std::vector<int64_t>{1, 20});

  RearrangeAttrs bad;
  bad.perm = {0, 0, 1};
  CHECK_THROWS_WITH(rearrange_view(bad, {1, 2, 3}), Catch::Contains("not a permutation"));
  s.sizes = {1, 3, 2};  // rows 1, 3, 5 of 5
  CHECK_THROWS_WITH(rearrange_view(s, {2, 5, 7}), Catch::Contains("leaves [0, 5)"));
}

TEST_CASE("torch.onnx's Upsample (Resize nearest) and the Resize modes canonicalize into Rearranges",
          "[compiler][rearrange]") {
  struct Mode {
    const char* ctm;
    const char* nearest;
    std::vector<float> scales;
    Shape out;
    bool ok;
  };
  const Mode modes[] = {
      {"asymmetric", "floor", {1, 1, 2, 2}, {1, 2, 4, 6}, true},  // torch.onnx's nn.Upsample
      {"half_pixel", "round_prefer_floor", {1, 1, 3, 2}, {1, 2, 6, 6}, true},
      {"pytorch_half_pixel", "round_prefer_ceil", {1, 1, 2, 1}, {1, 2, 4, 3}, true},
      {"asymmetric", "floor", {1, 1, 0.5f, 1}, {1, 2, 1, 3}, true},  // subsampling: a Slice
      {"half_pixel", "ceil", {1, 1, 2, 2}, {}, false},               // source 0, 1, 1, 2: neither
      {"asymmetric", "floor", {1, 1, 1.5f, 1}, {}, false},
  };
  for (const Mode& m : modes) {
    INFO(m.ctm << " " << m.nearest << " " << m.scales[2] << "x" << m.scales[3]);
    ModelBuilder b;
    b.input("x", {1, 2, 2, 3}).output("y");
    b.node("Relu", {"x"}, "r");
    auto& n = b.node("Resize", {"r", "", b.f32("sc", {4}, m.scales)}, "y", "up");
    attr(n, "mode", std::string("nearest"));
    attr(n, "coordinate_transformation_mode", std::string(m.ctm));
    attr(n, "nearest_mode", std::string(m.nearest));
    if (!m.ok) {
      CHECK(import_error(b.bytes()).find("node 'up' (Resize): axis 2: ") != std::string::npos);
      continue;
    }
    const Graph g = import_model(b.bytes());
    REQUIRE(g.nodes.back().op == Op::Rearrange);
    REQUIRE(g.tensor("y").shape == m.out);
    std::vector<float> x(12);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
    const TensorMap out = run_fp32(g, {{"x", make_f32("x", {1, 2, 2, 3}, x)}});
    const std::vector<float>& y = out.at("y").f32;
    const int64_t H = m.out[2], W = m.out[3];
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
          // Every mode accepted here maps output i to i / s up, i * (1 / s) down (floor).
          const auto sh = static_cast<double>(m.scales[2]), sw = static_cast<double>(m.scales[3]);
          const auto si = static_cast<int64_t>(static_cast<double>(i) / sh);
          const auto sj = static_cast<int64_t>(static_cast<double>(j) / sw);
          CHECK(y[static_cast<size_t>((c * H + i) * W + j)] == x[static_cast<size_t>((c * 2 + si) * 3 + sj)]);
        }
  }
  {
    ModelBuilder b;
    b.input("x", {1, 2, 2, 3}).output("y");
    b.node("Relu", {"x"}, "r");
    attr(b.node("Resize", {"r", "", b.f32("sc", {4}, {1, 1, 2, 2})}, "y", "up"), "mode",
         std::string("linear"));
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'up' (Resize): mode 'linear': only mode 'nearest' is supported");
  }
}

TEST_CASE("Transpose and Slice of activations along any axes canonicalize into Rearranges",
          "[compiler][rearrange]") {
  ModelBuilder b;
  b.input("x", {1, 3, 4, 4}).output("y");
  b.node("Relu", {"x"}, "r");
  attr(b.node("Transpose", {"r"}, "t"), "perm", std::vector<int64_t>{0, 2, 3, 1});  // NHWC [1, 4, 4, 3]
  const auto i64 = [&](const char* name, std::vector<int64_t> v) {
    return b.ints(name, {static_cast<int64_t>(v.size())}, kInt64, v);
  };
  // YOLOv5's Focus-style x[:, ::2, 1::2, :]: rows 0, 2 and columns 1, 3.
  b.node("Slice", {"t", i64("st", {0, 1}), i64("en", {100, -1}), i64("ax", {1, -2}), i64("sp", {2, 2})}, "y");
  const Graph g = import_model(b.bytes());
  int rearranges = 0;
  for (const Node& n : g.nodes) rearranges += n.op == Op::Rearrange;
  CHECK(rearranges == 2);
  CHECK(g.tensor("y").shape == Shape{1, 2, 1, 3});  // columns 1 only: end -1 is column 3, exclusive
  std::vector<float> x(48);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const TensorMap out = run_fp32(g, {{"x", make_f32("x", {1, 3, 4, 4}, x)}});
  std::vector<float> want;
  for (int64_t h : {0, 2})
    for (int64_t c = 0; c < 3; ++c) want.push_back(x[static_cast<size_t>(c * 16 + h * 4 + 1)]);
  CHECK(out.at("y").f32 == want);
}
