// Chrome trace and VCD written from a timed run's event log.
#include "sim/trace.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sim/simulator.h"
#include "sim/timing.h"
#include "tests/support/sim_helpers.h"

using namespace tpusim;
using namespace simtest;

namespace {

struct Run {
  Program p;
  sim::RunResult r;
};

// GDMA: load, end. TIU: sync(1) (waits for the load), eltwise, end.
Run small_run(const Arch& a) {
  ops::Eltwise e;
  e.n = 1, e.c = 8, e.h = 4, e.w = 4, e.a = 0, e.b = 0, e.dst = int64_t(sim::bank_bytes(a) / 2);
  e.a_m0 = e.b_m0 = 1 << 30, e.a_shift = e.b_shift = 30;
  set_requant(e, DType::Int8);
  Run run{program(a, {load(DType::Int8, 1, 8, 4, 4, 0, 0, a.lanes), end()}, {sync(1), e.instr(), end()}), {}};
  run.p.debug.push_back(DebugEntry{Engine::Tiu, 1, "add_1"});
  sim::DeviceMemory mem = sim::prepare_memory(run.p, a);
  run.r = sim::run(run.p, a, mem);
  return run;
}

}  // namespace

TEST_CASE("chrome trace: one thread per engine, an event per instruction, times at the clock",
          "[sim][trace]") {
  const Arch& a = arch_preset("edge");  // 500 MHz: 1 cycle = 0.002 us
  const Run run = small_run(a);
  const nlohmann::json t = nlohmann::json::parse(sim::chrome_trace(run.p, a, run.r).dump());
  const auto& ev = t.at("traceEvents");
  const uint64_t L = 20 + 80 + 128 / 8;
  REQUIRE(run.r.stats.total_cycles > L);
  int complete = 0, instants = 0, meta = 0;
  for (const auto& e : ev) {
    const std::string ph = e.at("ph");
    meta += ph == "M";
    instants += ph == "i";
    if (ph != "X") continue;
    ++complete;
    const uint64_t start = e.at("args").at("start_cycle"), end_cycle = e.at("args").at("end_cycle");
    CHECK(e.at("ts").get<double>() == Approx(start / 500.0));
    CHECK(e.at("dur").get<double>() == Approx((end_cycle - start) / 500.0));
    if (e.at("name") == "dma.load") CHECK(end_cycle == L);
    if (e.at("name") == "sync (waiting)") CHECK((e.at("tid") == 1 && end_cycle == L));
    if (e.at("name") == "eltwise add_1") CHECK(e.at("args").at("node") == "add_1");
    CHECK(e.at("name") != "eltwise");  // named by mnemonic and node
  }
  CHECK(meta == 2);
  CHECK(complete == 3);  // load, the sync that waited, eltwise
  CHECK(instants == 2);  // the ends
  CHECK(t.at("otherData").at("total_cycles") == run.r.stats.total_cycles);
}

TEST_CASE("vcd: header, initial values, and a change at every instruction boundary", "[sim][trace]") {
  const Arch& a = arch_preset("edge");
  const Run run = small_run(a);
  const std::string v = sim::vcd(a, run.r);
  CHECK_THAT(v, Catch::Contains("$timescale 1ps $end") && Catch::Contains("$scope module gdma $end") &&
                    Catch::Contains("$var wire 8 c opcode $end") && Catch::Contains("$enddefinitions $end") &&
                    Catch::Contains("$dumpvars"));
  // Timestamps strictly increase and end at the total.
  std::istringstream in(v);
  std::string line;
  std::vector<uint64_t> times;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '#') times.push_back(std::stoull(line.substr(1)));
  REQUIRE(times.size() >= 3);
  for (size_t i = 1; i < times.size(); ++i) CHECK(times[i] > times[i - 1]);
  CHECK(times.front() == 0);
  // edge runs at 500 MHz: one cycle is 2000 ps.
  REQUIRE(a.clock_mhz == 500);
  CHECK(times.back() == run.r.stats.total_cycles * 2000);
  // At the load's end the TIU starts the eltwise (opcode 0x23) and the GDMA ends (busy 0).
  const std::string at_load_end = "#" + std::to_string((20 + 80 + 16) * 2000) + "\n";
  const size_t pos = v.find(at_load_end);
  REQUIRE(pos != std::string::npos);
  const std::string step = v.substr(pos, v.find('#', pos + 1) - pos);
  CHECK_THAT(step, Catch::Contains("0a\n") && Catch::Contains("1e\n") && Catch::Contains("b00100011 g"));
}
