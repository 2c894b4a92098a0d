// The back end (compiler/backend.h) on the QDQ zoo: lower, compile for every preset, simulate,
// and require every DDR tensor to equal run_int's bit for bit.
#include <catch2/catch.hpp>

#include "base/file_io.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "tests/compiler/backend_helpers.h"
#include "tests/support/onnx_zoo.h"

using namespace betest;
using namespace tpusim::testing;

namespace {

IntGraph lowered(const TestModel& m, int64_t batch = 1) {
  const std::string& b = m.bytes;
  Graph g = import_onnx_bytes(std::span(reinterpret_cast<const uint8_t*>(b.data()), b.size()),
                              m.name + ".onnx", ImportOptions{batch});
  return lower_qdq(g);
}

std::vector<TestModel> qdq_models() {
  return {test_model("qdq_int8", 1), test_model("qdq_uint8", 1), test_model("qdq_int4", 1), qdq_depthwise(1)};
}

}  // namespace

TEST_CASE("back end: QDQ zoo bit-exact on every preset (functional)", "[backend]") {
  for (const TestModel& m : qdq_models()) {
    const IntGraph g = lowered(m);
    for (const char* preset : {"edge", "default", "server"}) {
      INFO(m.name << " on " << preset);
      const BitexactResult r = check_bitexact(g, arch_preset(preset), false, 11);
      CHECK(r.tensors_compared >= 3);
    }
  }
}

TEST_CASE("back end: QDQ zoo with batch 3 bit-exact (batch tiles)", "[backend]") {
  for (const TestModel& m : qdq_models())
    for (const char* preset : {"edge", "server"}) {
      INFO(m.name << " batch 3 on " << preset);
      check_bitexact(lowered(m, 3), arch_preset(preset), false, 13);
    }
}

TEST_CASE("back end: QDQ zoo bit-exact in timed mode", "[backend]") {
  const std::vector<TestModel> ms = qdq_models();
  for (size_t j = 0; j < 3 * ms.size(); ++j) {
    const size_t i = j / 3;
    const char* preset = j % 3 == 0 ? "edge" : j % 3 == 1 ? "default" : "server";
    INFO(ms[i].name << " on " << preset);
    const BitexactResult r = check_bitexact(lowered(ms[i]), arch_preset(preset), true, 12);
    CHECK(r.stats.total_cycles > 0);
    // With 16 banks per lane every operand of an instruction gets a bank of its own.
    if (std::string(preset) == "server") CHECK(r.stats.tiu_bank_conflicts == 0);
    double roof = 0;
    for (const ScheduleLayer& L : r.report.layers) {
      roof += L.roofline_cycles;
      // A concat whose inputs were stored in place inside its output emits nothing.
      const bool empty = L.gdma_begin == L.gdma_end && L.tiu_begin == L.tiu_end;
      CHECK((L.sim_cycles > 0 || (empty && L.kind == "concat")));
    }
    WARN(ms[i].name << " on " << preset << ": " << r.stats.total_cycles << " cycles (roofline " << roof
                    << "), gdma busy " << r.stats.engine(Engine::Gdma).busy << ", tiu busy "
                    << r.stats.engine(Engine::Tiu).busy);
  }
}

TEST_CASE("back end: program is valid, ends both streams, has a debug map and a report", "[backend]") {
  const IntGraph g = lowered(test_model("qdq_int8", 1));
  CompileReport rep;
  const Program p = compile_int_graph(g, arch_preset("edge"), &rep);
  REQUIRE(p.gdma.back().op == Opcode::End);
  REQUIRE(p.tiu.back().op == Opcode::End);
  REQUIRE(p.debug.size() == p.gdma.size() + p.tiu.size());
  REQUIRE(rep.layers.size() == g.ops.size());
  const nlohmann::json j = rep.to_json();
  REQUIRE(j["layers"].size() == g.ops.size());
  CHECK(j["total_macs"].get<uint64_t>() > 0);
  for (const ScheduleLayer& L : rep.layers) CHECK(L.tiles >= 1);
  // Round trip through the container.
  REQUIRE(decode_program(encode_program(p), "rt") == p);
}

TEST_CASE("back end: the QDQ zoo as .onnx files for `tpusim compile`", "[backend]") {
  // Leaves the models where a manual or scripted `tpusim compile` can find them.
  const std::string dir = std::string(TPUSIM_BINARY_DIR) + "/tests/";
  for (const TestModel& m : qdq_models()) {
    write_file_atomic(dir + "backend_" + m.name + ".onnx", std::string_view(m.bytes));
    CHECK(lowered(m).ops.size() >= 3);
  }
  const TestModel fp32 = test_model("mlp", 1);  // for the "calibration is not yet supported" error
  write_file_atomic(dir + "backend_fp32_mlp.onnx", std::string_view(fp32.bytes));
}
