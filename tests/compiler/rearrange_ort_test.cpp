// Data movement of activations as exporters write it — Transpose, Slice with steps along H and W,
// nearest Resize, Split along W — in a QDQ model, through tpusim against ONNX Runtime (an
// independent reference, tests/support/ort/run_ort.js): the copies must agree exactly, the one
// Add at the end within one step; and the simulator equal to the integer reference on every preset.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>

#include "base/npy.h"
#include "compiler/lower.h"
#include "isa/arch.h"
#include "tests/compiler/backend_helpers.h"
#include "tests/compiler/ort_helpers.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

// x uint8 [2, 6, 5, 8] -> DQ -> Transpose {0, 2, 3, 1} -> [2, 5, 8, 6] -> Q/DQ -> Slice axes {1, 2}
// starts {1, 0} ends {5, 8} steps {2, 3} -> [2, 2, 3, 6] -> Q/DQ -> Resize nearest x2 (H, W;
// half_pixel, round_prefer_floor: the defaults) -> [2, 2, 6, 12] -> Q/DQ -> Split W {6, 6} -> Add
// -> Q -> y uint8 [2, 2, 6, 6]; with `swap` instead Concat(b, a) on W -> Q onto the same grid: data
// movement only, so ONNX Runtime must agree exactly.
std::string model(int64_t opset, bool swap) {
  ModelBuilder b(opset);
  b.input("x", {2, 6, 5, 8}, kUInt8).output("y", kUInt8);
  const std::string s = b.scalar("s", 0.02f), z = b.ints("z", {}, kUInt8, {128});
  b.node("DequantizeLinear", {"x", s, z}, "x_f");
  attr(b.node("Transpose", {"x_f"}, "t"), "perm", std::vector<int64_t>{0, 2, 3, 1});
  add_qdq(b, "t", "t_qdq", 0.02f, 128, kUInt8);
  b.node("Slice",
         {"t_qdq", b.ints("st", {2}, kInt64, {1, 0}), b.ints("en", {2}, kInt64, {5, 8}),
          b.ints("ax", {2}, kInt64, {1, 2}), b.ints("sp", {2}, kInt64, {2, 3})},
         "sl");
  add_qdq(b, "sl", "sl_qdq", 0.02f, 128, kUInt8);
  b.node("Resize", {"sl_qdq", "", b.f32("scales", {4}, {1, 1, 2, 2})}, "up");
  add_qdq(b, "up", "up_qdq", 0.02f, 128, kUInt8);
  auto& sp = b.node("Split", {"up_qdq", b.ints("parts", {2}, kInt64, {6, 6})}, "a");
  sp.add_output("b");
  attr(sp, "axis", int64_t{3});
  if (swap) {
    attr(b.node("Concat", {"b", "a"}, "cat"), "axis", int64_t{3});
    b.node("QuantizeLinear", {"cat", s, z}, "y");
  } else {
    b.node("Add", {"a", "b"}, "sum");
    b.node("QuantizeLinear", {"sum", b.scalar("ys", 0.04f), b.ints("yz", {}, kUInt8, {128})}, "y");
  }
  return b.bytes();
}

}  // namespace

TEST_CASE(
    "Transpose, strided Slice, nearest Resize and Split of activations agree with ONNX Runtime; "
    "the simulator with run_int",
    "[compiler][rearrange][ort]") {
  std::mt19937 rng(21);
  std::vector<int32_t> xv;
  for (int64_t v : uniform_ints(rng, 2 * 6 * 5 * 8, 0, 255)) xv.push_back(static_cast<int32_t>(v));
  const NpyArray x = make_npy_i32({2, 6, 5, 8}, xv, NpyType::U8);
  for (const bool swap : {true, false}) {
    INFO((swap ? "copies only" : "with an Add"));
    const std::string bytes = model(13, swap);
    const IntGraph ig = lower_qdq(import_model(bytes, 2));
    int rearranges = 0;
    for (const IOp& op : ig.ops) rearranges += op.as<IRearrange>() != nullptr;
    CHECK(rearranges == 5);  // transpose, slice, resize, the two parts of the Split
    const ITensor& t = ig.tensor(ig.inputs[0]);
    IntValues in;
    in[ig.inputs[0]] = IntValue{t.shape, t.dtype, t.scale, t.zero_point, xv};
    const IntRun run = run_int(ig, in);
    const std::vector<int32_t>& ours = run.values.at(ig.outputs[0]).data;
    const std::vector<int64_t> ort = orttest::run_ort_y(bytes, x, "compiler_rearrange_work");
    REQUIRE(ours.size() == ort.size());
    REQUIRE(ours.size() == (swap ? 2 * 2 * 6 * 12 : 2 * 2 * 6 * 6));
    int64_t off = 0;
    for (size_t i = 0; i < ort.size(); ++i) {
      CHECK(std::llabs(ours[i] - ort[i]) <= (swap ? 0 : 1));
      off += ours[i] != ort[i];
    }
    // With the Add: its ties (a sum of two codes on a grid twice as coarse) round differently.
    if (!swap)
      WARN("rearrange chain + Add: " << off << " of " << ort.size() << " outputs one step from ONNX Runtime");
    for (const Arch& a : arch_presets()) betest::check_bitexact(ig, a, a.name == "default", 5);
  }
}
