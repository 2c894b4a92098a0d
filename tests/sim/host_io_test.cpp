// The host side of a run (sim/host_io.h): batch shapes, QuantizeLinear of float inputs, integer
// range checks, input binding, output arrays and file names, batch statistics.
#include "sim/host_io.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file_io.h"
#include "isa/asm.h"

using namespace tpusim;
using Catch::Matchers::Contains;

namespace {

TensorDesc desc(std::vector<int64_t> shape, DType t = DType::Int8, float scale = 0.5f, int32_t zp = 0) {
  TensorDesc d;
  d.name = "x";
  d.shape = std::move(shape);
  d.dtype = t;
  d.scale = scale;
  d.zero_point = zp;
  return d;
}

sim::HostArray floats(std::vector<int64_t> shape, std::vector<float> v) {
  return {"in.npy", make_npy_f32(shape, v)};
}

sim::HostArray ints(std::vector<int64_t> shape, std::vector<int32_t> v, NpyType t = NpyType::I32) {
  return {"in.npy", make_npy_i32(shape, v, t)};
}

Program example() {
  const std::string path = TPUSIM_SOURCE_DIR "/examples/conv_relu_pool.s";
  return assemble(read_file_text(path), path);
}

}  // namespace

TEST_CASE("batch_runs: the descriptor's shape, or a multiple of its leading dimension", "[host_io]") {
  const std::vector<float> v(2 * 3 * 4 * 6);
  CHECK(sim::batch_runs(floats({1, 3, 4}, std::vector<float>(12)), desc({1, 3, 4})) == 1);
  CHECK(sim::batch_runs(floats({12, 3, 4}, v), desc({1, 3, 4})) == 12);
  CHECK(sim::batch_runs(floats({6, 3, 4}, std::vector<float>(72)), desc({2, 3, 4})) == 3);
  CHECK(sim::batch_runs(floats({}, {1.0f}), desc({})) == 1);
  CHECK_THROWS_WITH(
      sim::batch_runs(floats({3, 3, 4}, std::vector<float>(36)), desc({2, 3, 4})),
      Contains("in.npy: shape [3, 3, 4] does not fit input 'x': expected [2, 3, 4] or [B*2, 3, 4]"));
  CHECK_THROWS_WITH(sim::batch_runs(floats({3, 4}, std::vector<float>(12)), desc({1, 3, 4})),
                    Contains("expected [1, 3, 4] or [B, 3, 4] for a batch of B"));
  CHECK_THROWS_WITH(sim::batch_runs(floats({1, 4, 3}, std::vector<float>(12)), desc({1, 3, 4})),
                    Contains("in.npy"));
  CHECK_THROWS(sim::batch_runs(floats({0, 3, 4}, {}), desc({1, 3, 4})));
}

TEST_CASE("quantize_input: float32 as ONNX QuantizeLinear, half to even, saturating", "[host_io]") {
  const std::vector<float> x{0.25f, 0.75f, 1.25f, -0.25f, -0.75f, 1000.0f, -1000.0f, NAN};
  const auto q = sim::quantize_input(floats({8}, x), desc({8}, DType::Int8, 0.5f, 0), 0);
  CHECK(q == std::vector<int32_t>{0, 2, 2, 0, -2, 127, -128, 0});
  const auto u = sim::quantize_input(floats({8}, x), desc({8}, DType::UInt8, 0.5f, 128), 0);
  CHECK(u == std::vector<int32_t>{128, 130, 130, 128, 126, 255, 0, 128});
  const auto n4 = sim::quantize_input(floats({8}, x), desc({8}, DType::Int4, 0.5f, 1), 0);
  CHECK(n4 == std::vector<int32_t>{1, 3, 3, 1, -1, 7, -8, 1});
  // float64 is rounded to float32 first, then quantized the same way.
  NpyArray d;
  d.type = NpyType::F64;
  d.shape = {2};
  for (double v : {2.5 * 0.5, 3.5 * 0.5})
    for (int k = 0; k < 8; ++k) d.data.push_back(static_cast<uint8_t>(std::bit_cast<uint64_t>(v) >> (8 * k)));
  CHECK(sim::quantize_input({"d.npy", d}, desc({2}), 0) == std::vector<int32_t>{2, 4});
}

TEST_CASE("quantize_input: integers are already quantized, out-of-range values name the file", "[host_io]") {
  CHECK(sim::quantize_input(ints({4}, {-128, 0, 5, 127}, NpyType::I8), desc({4}), 0) ==
        std::vector<int32_t>{-128, 0, 5, 127});
  CHECK(sim::quantize_input(ints({4}, {0, 1, 14, 15}, NpyType::U8), desc({4}, DType::UInt4), 0) ==
        std::vector<int32_t>{0, 1, 14, 15});
  CHECK_THROWS_WITH(
      sim::quantize_input(ints({4}, {0, 1, 16, 15}, NpyType::U8), desc({4}, DType::UInt4), 0),
      Contains("in.npy: value 16 at element 2 is outside the range of input 'x' (uint4 [0, 15])"));
  CHECK_THROWS_WITH(sim::quantize_input(ints({2}, {200, 0}, NpyType::I16), desc({2}), 0), Contains("in.npy"));
}

TEST_CASE("quantize_input: run k takes the k-th slice of the batch", "[host_io]") {
  const auto a = ints({3, 2}, {1, 2, 3, 4, 5, 6});
  CHECK(sim::quantize_input(a, desc({1, 2}), 0) == std::vector<int32_t>{1, 2});
  CHECK(sim::quantize_input(a, desc({1, 2}), 2) == std::vector<int32_t>{5, 6});
  CHECK_THROWS(sim::quantize_input(a, desc({1, 2}), 3));
}

TEST_CASE("bind_inputs: NAME=PATH by name, plain paths in program order", "[host_io]") {
  Program p;
  p.inputs = {desc({1}), desc({1})};
  p.inputs[0].name = "a", p.inputs[1].name = "b";
  using V = std::vector<std::string>;
  CHECK(sim::bind_inputs(p, {"1.npy", "2.npy"}) == V{"1.npy", "2.npy"});
  CHECK(sim::bind_inputs(p, {"b=2.npy", "a=1.npy"}) == V{"1.npy", "2.npy"});
  CHECK(sim::bind_inputs(p, {"b=2.npy", "1.npy"}) == V{"1.npy", "2.npy"});
  CHECK(sim::bind_inputs(p, {"c=1.npy", "b=2.npy"}) == V{"c=1.npy", "2.npy"});  // not a name: a path
  CHECK_THROWS_WITH(sim::bind_inputs(p, {"1.npy"}), Contains("no --input for program input 'b'"));
  CHECK_THROWS_WITH(sim::bind_inputs(p, {"a=1.npy", "a=2.npy"}), Contains("input 'a' given twice"));
  CHECK_THROWS_WITH(sim::bind_inputs(p, {"1", "2", "3"}), Contains("--input 3"));
}

TEST_CASE("output arrays: integer types widened for .npy, batch stacked on dim 0", "[host_io]") {
  const std::vector<int32_t> v{-8, 7, 0, 1};
  NpyArray a = sim::output_array(desc({1, 2}, DType::Int4), 2, v);
  CHECK(a.type == NpyType::I8);
  CHECK(a.shape == std::vector<int64_t>{2, 2});
  CHECK(a.at_i64(0) == -8);
  CHECK(sim::output_array(desc({1, 4}, DType::UInt4), 1, std::vector<int32_t>{0, 15, 3, 4}).type ==
        NpyType::U8);
  CHECK(sim::output_array(desc({1, 4}, DType::UInt8), 1, std::vector<int32_t>{0, 255, 3, 4}).at_i64(1) ==
        255);
  CHECK(sim::output_array(desc({4}, DType::Int32), 1, std::vector<int32_t>{INT32_MIN, 0, 1, 2}).at_i64(0) ==
        INT32_MIN);
  NpyArray f = sim::dequantized_array(desc({1, 2}, DType::Int8, 0.5f, 1), 2, v);
  CHECK(f.type == NpyType::F32);
  CHECK(f.shape == std::vector<int64_t>{2, 2});
  CHECK(f.at_f64(0) == -4.5);
  CHECK(f.at_f64(1) == 3.0);
}

TEST_CASE("output file names are sanitised and must not collide", "[host_io]") {
  CHECK(sim::sanitize_file_name("/layer1/conv/out:0") == "_layer1_conv_out_0");
  CHECK(sim::sanitize_file_name("logits-1.q") == "logits-1.q");
  CHECK(sim::sanitize_file_name("..") == "_..");
  CHECK(sim::sanitize_file_name("") == "_");
  CHECK(sim::sanitize_file_name(std::string(500, 'a')).size() == 200);
  Program p;
  p.outputs = {desc({1}), desc({1})};
  p.outputs[0].name = "a/b", p.outputs[1].name = "a_b";
  sim::BatchResult r;
  r.runs = 1;
  r.outputs = {{1}, {2}};
  CHECK_THROWS_WITH(sim::output_files(p, r, "d", false), Contains("output 'a_b' would overwrite d/a_b.npy"));
  p.outputs[1].name = "c";
  const auto files = sim::output_files(p, r, "d", true);
  REQUIRE(files.size() == 4);
  CHECK(files[0].path == "d/a_b.npy");
  CHECK(files[1].path == "d/a_b.f32.npy");
  CHECK(files[3].path == "d/c.f32.npy");
}

TEST_CASE("run_batch: a batch of 3 equals three single runs, timed and functional", "[host_io]") {
  const Program p = example();
  const Arch a = sim::arch_for_program(p, "");
  CHECK(a.name == "default");
  std::vector<float> x(3 * 4 * 8 * 8);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i)) * 0.5f + 0.5f;
  const sim::HostArray batch{"x.npy", make_npy_f32({3, 4, 8, 8}, x)};
  for (bool functional : {false, true}) {
    sim::BatchOptions o;
    o.run.functional = functional;
    int64_t calls = 0;
    o.progress = [&](int64_t done, int64_t total) {
      CHECK(done == ++calls);
      CHECK(total == 3);
    };
    const sim::BatchResult r = sim::run_batch(p, a, {batch}, o);
    CHECK(calls == 3);
    REQUIRE(r.runs == 3);
    REQUIRE(r.per_run.size() == 3);
    REQUIRE(r.outputs.at(0).size() == 3 * 8 * 4 * 4);
    CHECK(r.first.events.empty() == functional);
    sim::BatchOptions single;
    single.run = o.run;
    for (int k = 0; k < 3; ++k) {
      const std::vector<float> one(x.begin() + k * 256, x.begin() + (k + 1) * 256);
      const sim::BatchResult s = sim::run_batch(p, a, {{"one.npy", make_npy_f32({1, 4, 8, 8}, one)}}, single);
      CHECK(std::equal(s.outputs[0].begin(), s.outputs[0].end(), r.outputs[0].begin() + k * 128));
      CHECK(s.total.total_cycles == r.per_run[k].total_cycles);
    }
    CHECK(r.total.total_cycles == 3 * r.per_run[0].total_cycles);
    CHECK(r.total.macs == 3 * r.per_run[0].macs);
    CHECK(r.total.opcode_counts.at("conv2d") == 3);
    for (const sim::EngineStats& e : r.total.engines)
      CHECK(e.busy + e.waiting + e.idle == r.total.total_cycles);
    const nlohmann::json j = sim::batch_stats_json(r);
    CHECK(j["batch"]["runs"] == 3);
    CHECK(j["batch"]["per_run"].size() == 3);
    CHECK(j["total_cycles"] == r.total.total_cycles);
    CHECK(j["mode"] == (functional ? "functional" : "timed"));
  }
}

TEST_CASE("run_batch: inconsistent batch sizes, wrong input count, foreign arch", "[host_io]") {
  const Program p = example();
  const sim::HostArray two{"two.npy", make_npy_f32({2, 4, 8, 8}, std::vector<float>(512))};
  CHECK_THROWS_WITH(sim::run_batch(p, arch_preset("default"), {two, two}, {}),
                    Contains("has 1 input(s), 2 given"));
  CHECK_THROWS_WITH(sim::run_batch(p, arch_preset("edge"), {two}, {}),
                    Contains("compiled for architecture 'default'"));
  Program custom = p;
  custom.arch.name = "mine";
  CHECK_THROWS_WITH(sim::arch_for_program(custom, ""), Contains("'mine', which is not a preset"));
  CHECK(sim::arch_for_program(custom, "server").name == "server");
}

TEST_CASE("write_output_files creates the directory and writes loadable .npy files", "[host_io]") {
  const std::filesystem::path dir = std::filesystem::path(TPUSIM_BINARY_DIR) / "host_io_test_out" / "nested";
  std::filesystem::remove_all(dir.parent_path());
  const NpyArray a = make_npy_i32({2}, std::vector<int32_t>{-1, 2}, NpyType::I8);
  sim::write_output_files({{(dir / "y.npy").string(), a}});
  const NpyArray b = load_npy((dir / "y.npy").string());
  CHECK(b.shape == a.shape);
  CHECK(b.data == a.data);
  std::filesystem::remove_all(dir.parent_path());
}
