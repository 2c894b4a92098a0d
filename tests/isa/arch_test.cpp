// Architecture presets and YAML: round trip, inheritance, and one clear error per bad key.
#include "isa/arch.h"

#include <catch2/catch.hpp>

#include "base/error.h"

using namespace tpusim;

TEST_CASE("three presets, the edge one small enough to force tiling", "[arch]") {
  REQUIRE(arch_presets().size() >= 3);
  const Arch& edge = arch_preset("edge");
  const Arch& def = arch_preset("default");
  const Arch& server = arch_preset("server");
  REQUIRE(edge.lmem_bytes() < def.lmem_bytes());
  REQUIRE(def.lmem_bytes() < server.lmem_bytes());
  REQUIRE(edge.lmem_bytes() <= 64 * 1024);
  REQUIRE(edge.fingerprint() != def.fingerprint());
  REQUIRE_THROWS_WITH(arch_preset("tiny"), Catch::Contains("unknown architecture 'tiny'") &&
                                               Catch::Contains("edge, default, server"));
}

TEST_CASE("YAML round trip of every preset keeps the fingerprint", "[arch]") {
  for (const Arch& a : arch_presets()) {
    const Arch back = arch_from_yaml(arch_to_yaml(a), "x.yaml");
    REQUIRE(back.name == a.name);
    REQUIRE(back.fingerprint() == a.fingerprint());
  }
}

TEST_CASE("YAML starts from a base preset and overrides keys", "[arch]") {
  const Arch a = arch_from_yaml("base: edge\nlanes: 32\nclock_mhz: 750.5\n", "configs/my_part.yaml");
  REQUIRE(a.name == "my_part");  // file stem unless `name` is given
  REQUIRE(a.lanes == 32);
  REQUIRE(a.clock_mhz == 750.5);
  REQUIRE(a.lane_bytes == arch_preset("edge").lane_bytes);
  REQUIRE(arch_from_yaml("name: n1\n", "a.yaml").lanes == arch_preset("default").lanes);
}

TEST_CASE("bad YAML gives one error naming the file and key", "[arch]") {
  auto err = [](const std::string& text) {
    try {
      arch_from_yaml(text, "bad.yaml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err("lanez: 8\n").find("bad.yaml: key 'lanez': unknown key") == 0);
  CHECK(err("lanes: -4\n") == "bad.yaml: key 'lanes': '-4' is not a positive integer");
  CHECK(err("lanes: 0\n") == "bad.yaml: key 'lanes': must be positive");
  CHECK(err("lanes: 8.5\n") == "bad.yaml: key 'lanes': '8.5' is not a positive integer");
  CHECK(err("lanes: [1, 2]\n") == "bad.yaml: key 'lanes': expected a scalar value");
  CHECK(err("clock_mhz: fast\n") == "bad.yaml: key 'clock_mhz': 'fast' is not a number");
  CHECK(err("clock_mhz: -1\n") == "bad.yaml: key 'clock_mhz': must be a positive finite number");
  CHECK(err("lane_bytes: 33554432\n") == "bad.yaml: key 'lane_bytes': 33554432 exceeds the maximum 16777216");
  CHECK(err("ddr_bytes: 99999999999999999999\n").find("key 'ddr_bytes'") != std::string::npos);
  CHECK(err("lane_bytes: 1000\nbanks_per_lane: 3\n") ==
        "bad.yaml: key 'banks_per_lane': 3 does not divide lane_bytes 1000");
  CHECK(err("base: huge\n").find("bad.yaml: key 'base': unknown architecture 'huge'") == 0);
  CHECK(err("- 1\n- 2\n") == "bad.yaml: expected a mapping of architecture keys");
  // A key that is a list (fuzz_arch_yaml's long run: yaml-cpp's own exception escaped).
  CHECK(err("lanes: 8\n[name]: x\n") == "bad.yaml:2: a key must be a plain name, not a list or mapping");
  CHECK(err("{a: 1}: x\n") == "bad.yaml:1: a key must be a plain name, not a list or mapping");
  CHECK(err("lanes: [1, 2\n").find("bad.yaml:") == 0);  // parse error with line:col
}

TEST_CASE("resolve_arch takes a preset name or a file", "[arch]") {
  REQUIRE(resolve_arch("server").name == "server");
  REQUIRE_THROWS_WITH(resolve_arch("/nonexistent/arch.yaml"),
                      Catch::Contains("neither a preset (edge, default, server) nor an existing file"));
}

TEST_CASE("energy and area keys: defaults, round trip, validation, not in the fingerprint", "[arch]") {
  const Arch& def = arch_preset("default");
  const std::string yaml = arch_to_yaml(def);
  for (const char* key :
       {"energy_mac_int8_pj: 0.3", "energy_mac_int4_pj: 0.15", "energy_lmem_read_pj_per_byte: 1.25",
        "energy_lmem_write_pj_per_byte: 1.25", "energy_ddr_pj_per_byte: 162.5", "static_mw_per_mm2: 10",
        "area_mac_um2: 419", "area_sram_mm2_per_kib: 0.004"})
    CHECK_THAT(yaml, Catch::Contains(key));
  const Arch a = arch_from_yaml(
      "name: default\nenergy_mac_int8_pj: 0.7\nenergy_ddr_pj_per_byte: 20.25\nstatic_mw_per_mm2: 0\n"
      "area_mac_um2: 1e3\n",
      "cheap.yaml");
  CHECK(a.energy_mac_int8_pj == 0.7);
  CHECK(a.energy_ddr_pj_per_byte == 20.25);
  CHECK(a.static_mw_per_mm2 == 0);  // cost keys may be 0: no leakage
  CHECK(a.area_mac_um2 == 1000);
  const Arch back = arch_from_yaml(arch_to_yaml(a), "back.yaml");
  CHECK(back.energy_mac_int8_pj == a.energy_mac_int8_pj);
  CHECK(back.energy_ddr_pj_per_byte == a.energy_ddr_pj_per_byte);
  CHECK(back.area_mac_um2 == a.area_mac_um2);
  // Cost figures do not change behaviour: a program compiled for "default" still runs on `a`.
  CHECK(a.fingerprint() == def.fingerprint());
  CHECK(arch_from_yaml("name: default\nlanes: 32\n", "x.yaml").fingerprint() != def.fingerprint());
  CHECK_THROWS_WITH(arch_from_yaml("energy_ddr_pj_per_byte: -1\n", "bad.yaml"),
                    "bad.yaml: key 'energy_ddr_pj_per_byte': must be a non-negative finite number");
  CHECK_THROWS_WITH(arch_from_yaml("area_mac_um2: big\n", "bad.yaml"),
                    "bad.yaml: key 'area_mac_um2': 'big' is not a number");
  // Area: MAC array + LMEM (256 MACs x 419 um^2, 512 KiB x 0.004 mm^2).
  CHECK(def.area_mm2() == Approx(256 * 419e-6 + 512 * 0.004).epsilon(1e-12));
}
