// qtable.yaml (qat/qtable.h): what parses, what is refused with which message, and the writer's
// text reading back to the same table; --qtable's layer check.
#include "qat/qtable.h"

#include <catch2/catch.hpp>
#include <string>

#include "base/error.h"

using namespace tpusim;
using namespace tpusim::qat;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

bool same(const QTable& a, const QTable& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].layer != b[i].layer || a[i].bits.weight != b[i].bits.weight || a[i].bits.act != b[i].bits.act)
      return false;
  return true;
}

std::string error_of(const std::string& text) {
  try {
    parse_qtable(text, "q.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("qtable: a mapping of layer names to wXaY, in file order, comments allowed") {
  const QTable t = parse_qtable(
      "# chosen by mixprec\nconv1: w8a8\nconv2: w4a4  # fast\nfc1: w4a8\n\"fc 2\": w2a2\n", "q.yaml");
  REQUIRE(t.size() == 4);
  CHECK(t[0].layer == "conv1");
  CHECK((t[0].bits.weight == 8 && t[0].bits.act == 8));
  CHECK((t[1].layer == "conv2" && t[1].bits.weight == 4 && t[1].bits.act == 4));
  CHECK((t[2].layer == "fc1" && t[2].bits.weight == 4 && t[2].bits.act == 8));
  CHECK((t[3].layer == "fc 2" && t[3].bits.weight == 2 && t[3].bits.act == 2));
}

TEST_CASE("qtable: the writer's text reads back to the same table, names quoted where YAML needs it") {
  const QTable t = {{"conv1", {8, 8}}, {"layer1.0.conv_a", {4, 8}},
                    {"null", {4, 4}},  {"a: b", {8, 4}},
                    {"yes", {3, 5}},   {"#x", {8, 2}}};
  const std::string text = qtable_yaml(t, "two\nlines");
  CHECK_THAT(text, Contains("# two\n# lines\n"));
  CHECK_THAT(text, Contains("\nconv1: w8a8\n"));
  CHECK_THAT(text, Contains("\nlayer1.0.conv_a: w4a8\n"));
  CHECK(same(parse_qtable(text, "w.yaml"), t));
  CHECK(bits_name({4, 8}) == "w4a8");
}

TEST_CASE("qtable: bad files are one error naming the file, the line and the problem") {
  CHECK_THAT(error_of("conv1: w8a8\nconv2: w9a4\n"),
             Equals("q.yaml:2: layer 'conv2': bits 'w9a4': expected wXaY "
                    "with X, Y in 2..8 (e.g. w8a8, w4a4, w2a2)"));
  CHECK_THAT(error_of("conv1: w8a8\nconv1: w4a4\n"), Equals("q.yaml:2: layer 'conv1' is given twice"));
  CHECK_THAT(error_of("- conv1\n- conv2\n"), Contains("q.yaml:1: expected a mapping of layer names"));
  CHECK_THAT(error_of("just text"), Contains("q.yaml:1: expected a mapping"));
  CHECK_THAT(error_of("conv1: [w8a8]\n"), Equals("q.yaml:1: layer 'conv1': expected wXaY (e.g. w4a8)"));
  CHECK_THAT(error_of("conv1: {w: 8}\n"), Contains("q.yaml:1: layer 'conv1': expected wXaY"));
  CHECK_THAT(error_of("conv1: w8a8\n  bad: [\n"), Contains("q.yaml:"));
  CHECK_THAT(error_of("conv1: w8a8\n  bad: [\n"), Contains("invalid YAML"));
  CHECK_THAT(error_of(""), Contains("q.yaml:1: expected a mapping"));
  CHECK_THAT(error_of("{}"), Equals("q.yaml: no layer in the table"));
  CHECK_THAT(error_of("\"\": w8a8\n"), Contains("q.yaml:1: a layer name must be a non-empty string"));
  CHECK_THAT(error_of("conv1: w8a8a\n"), Contains("q.yaml:1: layer 'conv1': bits 'w8a8a'"));
  CHECK_THROWS_WITH(read_qtable("/nonexistent/q.yaml"), Contains("/nonexistent/q.yaml: cannot read"));
}

TEST_CASE("qtable: layers outside the model are named with the model's layers; apply fills QuantConfig") {
  const QTable t = {{"conv1", {4, 4}}, {"conv9", {8, 8}}};
  CHECK_THROWS_WITH(check_qtable_layers(t, {"conv1", "pool1", "fc1"}, "lenet5", "q.yaml"),
                    Equals("q.yaml: layer 'conv9' is not in model lenet5 (its layers: conv1, pool1, fc1)"));
  CHECK_NOTHROW(check_qtable_layers({{"fc1", {4, 8}}}, {"conv1", "fc1"}, "lenet5", "q.yaml"));
  QuantConfig q;
  q.layers["fc1"] = {2, 2};
  q.layers["conv1"] = {8, 8};
  apply_qtable({{"conv1", {4, 4}}}, q);
  CHECK((q.layers.at("conv1").weight == 4 && q.layers.at("conv1").act == 4));
  CHECK((q.layers.at("fc1").weight == 2 && q.layers.at("fc1").act == 2));
}
