// Design-space exploration (docs/dse.md), through the real compiler and simulator: monotonicity of
// compute and DMA time in the architecture, the energy model against counts x coefficients, int4
// MACs counted apart, and the sweep logic (axes, ids, shards, point architectures, CSV).
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "base/error.h"
#include "compiler/backend.h"
#include "compiler/lower.h"
#include "sim/simulator.h"
#include "tests/support/onnx_zoo.h"
#include "workflow/dse_point.h"
#include "workflow/dse_sweep.h"

using namespace tpusim;
using namespace tpusim::testing;
namespace dse = tpusim::workflow::dse;

namespace {

// x [1,32,16,16] -> 3x3 conv (pad 1) to 64 channels: 4.7 M MACs on 42 KB of traffic.
compiler::IntGraph compute_bound_conv() {
  std::mt19937 rng(3);
  ModelBuilder b;
  b.input("x", {1, 32, 16, 16}).output("y");
  add_qdq(b, "x", "xq", 0.02f, 0, kInt8);
  add_dq_const(b, "w", {64, 32, 3, 3}, kInt8, uniform_ints(rng, 64 * 32 * 9, -127, 127),
               std::vector<float>(64, 0.002f));
  auto& c = b.node("Conv", {"xq", "w"}, "c", "conv");
  attr(c, "pads", std::vector<int64_t>{1, 1, 1, 1});
  add_qdq(b, "c", "y", 0.5f, 0, kInt8);
  return compiler::lower_qdq(import_model(b.bytes()));
}

// Residual add of two [1,64,32,32] tensors: 192 KB of DMA, a few hundred cycles of TIU work.
compiler::IntGraph dma_bound_add() {
  ModelBuilder b;
  b.input("a", {1, 64, 32, 32}).input("b", {1, 64, 32, 32}).output("y");
  add_qdq(b, "a", "aq", 0.1f, 0, kInt8);
  add_qdq(b, "b", "bq", 0.05f, 0, kInt8);
  b.node("Add", {"aq", "bq"}, "s", "add");
  add_qdq(b, "s", "y", 0.2f, 0, kInt8);
  return compiler::lower_qdq(import_model(b.bytes()));
}

Arch with(const std::string& yaml) { return arch_from_yaml(yaml, "t.yaml"); }

}  // namespace

TEST_CASE("dse: more MACs never raise a compute-bound conv's compute cycles", "[dse]") {
  const compiler::IntGraph g = compute_bound_conv();
  const sim::Stats def = dse::simulate(g, arch_preset("default"));
  REQUIRE(def.engine(Engine::Tiu).busy > 4 * def.engine(Engine::Gdma).busy);  // compute-bound indeed
  for (const char* key : {"lanes", "macs_per_lane"}) {
    uint64_t prev_tiu = UINT64_MAX, prev_mac = UINT64_MAX, first = 0;
    for (int v : {4, 8, 16, 32, 64}) {
      INFO(key << " = " << v);
      const sim::Stats s = dse::simulate(g, with(fmt::format("{}: {}\n", key, v)));
      const uint64_t tiu = s.engine(Engine::Tiu).busy, mac = s.tiu_unit_busy.at("mac_array");
      CHECK(tiu <= prev_tiu);
      CHECK(mac <= prev_mac);
      CHECK(s.macs == def.macs);  // the work itself does not change
      prev_tiu = tiu, prev_mac = mac;
      if (!first) first = tiu;
    }
    CHECK(prev_tiu * 8 < first);  // and it does fall: 16x the MACs, well over 8x faster
  }
}

TEST_CASE("dse: more DDR bandwidth never raises DMA time", "[dse]") {
  const compiler::IntGraph g = dma_bound_add();
  const sim::Stats def = dse::simulate(g, arch_preset("default"));
  REQUIRE(def.engine(Engine::Gdma).busy > 4 * def.engine(Engine::Tiu).busy);  // DMA-bound indeed
  uint64_t prev = UINT64_MAX, first = 0;
  for (int bw : {4, 8, 16, 32, 64, 128}) {
    INFO("ddr_bytes_per_cycle = " << bw);
    const sim::Stats s = dse::simulate(g, with(fmt::format("ddr_bytes_per_cycle: {}\n", bw)));
    CHECK(s.engine(Engine::Gdma).busy <= prev);
    prev = s.engine(Engine::Gdma).busy;
    if (!first) first = prev;
  }
  CHECK(prev * 4 < first);
}

TEST_CASE("dse: energy is counts x coefficients, and the total is the sum of its parts", "[dse]") {
  // Distinct coefficients, so that a part using the wrong count or coefficient shows.
  const Arch a = with(
      "energy_mac_int8_pj: 0.31\nenergy_mac_int4_pj: 0.07\nenergy_lmem_read_pj_per_byte: 1.9\n"
      "energy_lmem_write_pj_per_byte: 2.3\nenergy_ddr_pj_per_byte: 150.5\nstatic_mw_per_mm2: 7.5\n"
      "area_mac_um2: 500\narea_sram_mm2_per_kib: 0.005\n");
  for (const char* model : {"qdq_int4", "qdq_int8"}) {
    INFO(model);
    const compiler::IntGraph g = compiler::lower_qdq(import_model(test_model(model, 1).bytes));
    const sim::Stats s = dse::simulate(g, a);
    if (std::string(model) == "qdq_int4") {
      // uint4 activations x int4 weights in the Gemm (10 x 125) run at the int4 rate; the first
      // conv has int8 activations (5 channels, 3x3, 10x10 outputs) and counts as int8.
      CHECK(s.macs_int4 == 10 * 125);
      CHECK(s.macs == 10 * 125 + 5 * 9 * 100);
    } else {
      CHECK(s.macs_int4 == 0);
      CHECK(s.macs > 0);
    }
    const double mac = double(s.macs - s.macs_int4) * 0.31 + double(s.macs_int4) * 0.07;
    const double lmem = double(s.lmem_read_bytes) * 1.9 + double(s.lmem_write_bytes) * 2.3;
    const double ddr = double(s.ddr_read_bytes + s.ddr_write_bytes) * 150.5;
    const double area = 256 * 500e-6 + 512 * 0.005;
    const double leak = 7.5 * area * (double(s.total_cycles) / 1000.0) * 1e3;  // mW x us = nJ
    const sim::Energy e = sim::energy(s, a);
    CHECK(e.mac_pj == Approx(mac).epsilon(1e-12));
    CHECK(e.lmem_pj == Approx(lmem).epsilon(1e-12));
    CHECK(e.ddr_pj == Approx(ddr).epsilon(1e-12));
    CHECK(e.static_pj == Approx(leak).epsilon(1e-12));
    CHECK(e.total_pj == Approx(mac + lmem + ddr + leak).epsilon(1e-12));
    CHECK(e.static_pj > 0);
    const nlohmann::json m = dse::metrics(s, a);
    const double parts = m["energy_mac_nj"].get<double>() + m["energy_lmem_nj"].get<double>() +
                         m["energy_ddr_nj"].get<double>() + m["energy_static_nj"].get<double>();
    CHECK(m["energy_nj"].get<double>() == Approx(parts).epsilon(1e-9));
    CHECK(m["area_mm2"].get<double>() == Approx(area).epsilon(1e-12));
    CHECK(m["edp_nj_us"].get<double>() == Approx(m["energy_nj"].get<double>() * s.time_us()).epsilon(1e-12));
  }
}

TEST_CASE("dse: a program for default runs on default with other energy numbers", "[dse]") {
  const compiler::IntGraph g = compiler::lower_qdq(import_model(test_model("qdq_int8", 1).bytes));
  const Program p = compiler::compile_int_graph(g, arch_preset("default"));
  const Arch cheap = with("name: default\nenergy_ddr_pj_per_byte: 1\nstatic_mw_per_mm2: 0\n");
  sim::DeviceMemory mem = sim::prepare_memory(p, cheap);
  CHECK(sim::run(p, cheap, mem).stats.total_cycles > 0);
  const Arch wider = with("name: default\nlanes: 32\n");
  sim::DeviceMemory mem2 = sim::prepare_memory(p, wider);
  CHECK_THROWS_WITH(sim::run(p, wider, mem2), Catch::Contains("fingerprint"));
}

TEST_CASE("dse: sweep axes, points, ids and shards", "[dse]") {
  const auto axes = dse::parse_axes({"lanes=08,16", "clock_mhz=1.50,1000", "lmem_kib=64"});
  CHECK(axes[0].values == std::vector<std::string>{"8", "16"});
  CHECK(axes[1].values == std::vector<std::string>{"1.5", "1000"});
  const auto pts = dse::points(axes);
  REQUIRE(pts.size() == 4);
  CHECK(pts[0].id == "lanes-8__clock_mhz-1.5__lmem_kib-64");
  CHECK(pts[1].id == "lanes-8__clock_mhz-1000__lmem_kib-64");  // the last axis varies fastest
  CHECK(pts[3].params.at("lanes") == "16");
  CHECK(dse::points({}).at(0).id == "base");
  auto err = [](const std::vector<std::string>& args) {
    try {
      dse::parse_axes(args);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(err({"lanez=8"}), Catch::Contains("--sweep 'lanez=8': unknown key 'lanez'"));
  CHECK(err({"lanes=8,x"}) == "--sweep 'lanes=8,x': lanes value 'x' is not a positive integer");
  CHECK(err({"lanes=8,"}) == "--sweep 'lanes=8,': lanes value '' is not a positive integer");
  CHECK(err({"lanes=8,08"}) == "--sweep 'lanes=8,08': value 8 given twice");
  CHECK(err({"clock_mhz=0"}) == "--sweep 'clock_mhz=0': clock_mhz value '0' is not positive");
  CHECK(err({"static_mw_per_mm2=0,-1"}) ==
        "--sweep 'static_mw_per_mm2=0,-1': static_mw_per_mm2 value '-1' is negative");
  CHECK(err({"lanes"}) == "--sweep 'lanes': expected KEY=V1,V2,...");
  CHECK_THAT(err({"lanes=8", "lanes=16"}), Catch::Contains("key 'lanes' given twice"));
  CHECK_THAT(err({"lmem_kib=8", "lane_bytes=1024"}), Catch::Contains("sweep one of them"));

  // Shards are 1-based and partition the points.
  const auto many = dse::points(dse::parse_axes({"lanes=1,2,3,4,5", "macs_per_lane=1,2,3"}));
  std::vector<int> hits(many.size());
  for (size_t k = 1; k <= 4; ++k)
    for (const auto& p : many) hits[p.index] += dse::parse_shard(fmt::format("{}/4", k)).has(p.index);
  CHECK(hits == std::vector<int>(many.size(), 1));
  CHECK(dse::parse_shard("1/4").has(0));
  CHECK(dse::parse_shard("2/4").has(5));
  for (const char* bad : {"0/4", "5/4", "1", "a/b", "1/0", "/4"})
    CHECK_THROWS_WITH(dse::parse_shard(bad), Catch::StartsWith(fmt::format("--shard '{}'", bad)));
}

TEST_CASE("dse: point architectures, lmem_kib, invalid points, CSV", "[dse]") {
  const Arch& def = arch_preset("default");
  const Arch a = dse::point_arch(def, {{"lanes", "8"}, {"lmem_kib", "64"}, {"energy_ddr_pj_per_byte", "20"}});
  CHECK(a.lanes == 8);
  CHECK(a.lane_bytes == 8192);
  CHECK(a.energy_ddr_pj_per_byte == 20);
  CHECK(a.macs_per_lane == def.macs_per_lane);
  CHECK(dse::point_arch(def, {{"lmem_kib", "64"}}).lane_bytes == 4096);  // the base's 16 lanes
  CHECK_THROWS_WITH(dse::point_arch(def, {{"lanes", "3"}, {"lmem_kib", "64"}}),
                    "lmem_kib 64 does not split evenly over 3 lanes");
  CHECK_THROWS_WITH(dse::point_arch(def, {{"banks_per_lane", "3"}}),
                    Catch::Contains("key 'banks_per_lane': 3 does not divide lane_bytes 32768"));
  CHECK_THROWS_WITH(dse::point_arch(def, {{"lanes", "70000"}}), Catch::Contains("key 'lanes'"));

  const auto axes = dse::parse_axes({"lanes=8"});
  const nlohmann::json ok = {{"index", 0},
                             {"id", "lanes-8"},
                             {"status", "ok"},
                             {"params", {{"lanes", "8"}}},
                             {"metrics", {{"cycles", 100}, {"energy_nj", 1.5}}}};
  const nlohmann::json bad = {{"index", 1},
                              {"id", "x"},
                              {"status", "error"},
                              {"params", {{"lanes", "8"}}},
                              {"error", "c1: no tiling fits, \"really\""}};
  const std::string csv = dse::results_csv(axes, {ok, bad});
  const size_t cols = 3 + 1 + dse::metric_columns().size() + 1;
  const std::string header = csv.substr(0, csv.find('\n'));
  CHECK(std::count(header.begin(), header.end(), ',') == static_cast<long>(cols - 1));
  CHECK_THAT(csv, Catch::Contains("\n0,lanes-8,ok,8,100,") && Catch::Contains(",1.5,") &&
                      Catch::Contains(",\"c1: no tiling fits, \"\"really\"\"\"\n"));
}
