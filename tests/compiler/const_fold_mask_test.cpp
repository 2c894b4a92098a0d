// Constant folding of the mask arithmetic torch.onnx writes for Swin's shifted windows: Mod (both
// sign conventions), ScatterND, Not, boolean constants (read as 0/1) and Casts to bool fold into
// one constant; Dropout in training mode at a constant ratio 0 is an identity.
#include <catch2/catch.hpp>
#include <string>

#include "compiler/onnx_import.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

constexpr int32_t kBool = 9;  // ONNX TensorProto.BOOL

std::string bools(ModelBuilder& b, const std::string& name, const std::vector<bool>& v) {
  auto* t = b.proto().mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(kBool);
  t->add_dims(static_cast<int64_t>(v.size()));
  std::string raw;
  for (bool x : v) raw.push_back(x ? 1 : 0);
  t->set_raw_data(raw);
  return name;
}

std::string ints4(ModelBuilder& b, const std::string& name, const std::vector<int64_t>& v) {
  return b.ints(name, {static_cast<int64_t>(v.size())}, kInt64, v);
}

onnx::NodeProto& last(ModelBuilder& b) {
  return *b.proto().mutable_graph()->mutable_node(b.proto().graph().node_size() - 1);
}

}  // namespace

TEST_CASE("Swin's mask arithmetic folds: Mod, ScatterND, Not, bool constants and Casts to bool",
          "[compiler][canon]") {
  ModelBuilder b(17);
  b.input("x", {1, 4}).output("y");
  b.node("Mod", {ints4(b, "a", {-7, 7, -7, 7}), ints4(b, "d", {3, 3, -3, -3})}, "m0");  // divisor's sign
  b.node("Mod", {"a", "d"}, "m1");                                                      // dividend's sign
  attr(last(b), "fmod", int64_t{1});
  b.node("ScatterND",
         {ints4(b, "zeros", {0, 0, 0, 0}), b.ints("where", {2, 1}, kInt64, {1, 3}), ints4(b, "upd", {5, 9})},
         "sc");
  b.node("Not", {bools(b, "flags", {true, false, true, false})}, "nb");
  b.node("Cast", {ints4(b, "some", {0, 3, 0, -2})}, "cb");
  attr(last(b), "to", int64_t{kBool});
  b.node("Cast", {"cb"}, "cbi");
  attr(last(b), "to", int64_t{7});
  // total = m0 + 10 m1 + 100 sc + 1000 nb + 10000 cb
  b.node("Mul", {"m1", b.ints("t10", {}, kInt64, {10})}, "m1x");
  b.node("Mul", {"sc", b.ints("t100", {}, kInt64, {100})}, "scx");
  b.node("Mul", {"nb", b.ints("t1000", {}, kInt64, {1000})}, "nbx");
  b.node("Mul", {"cbi", b.ints("t10000", {}, kInt64, {10000})}, "cbx");
  b.node("Add", {"m0", "m1x"}, "s1");
  b.node("Add", {"s1", "scx"}, "s2");
  b.node("Add", {"s2", "nbx"}, "s3");
  b.node("Add", {"s3", "cbx"}, "s4");
  b.node("Cast", {"s4"}, "total");
  attr(last(b), "to", int64_t{1});
  // Dropout in training mode at ratio 0 (Swin's attention dropout as exported) drops nothing.
  b.node("Dropout", {"x", b.scalar("ratio", 0.0f), bools(b, "training", {true})}, "xd");
  b.node("Add", {"xd", "total"}, "y");
  const Graph g = import_model(b.bytes());
  REQUIRE(g.nodes.size() == 1);
  CHECK(g.nodes[0].op == Op::Add);
  const Tensor* t = g.constant(g.nodes[0].input(1));
  REQUIRE(t);
  CHECK(t->f32 == std::vector<float>{-8, 11511, -11, 11908});
}

TEST_CASE("Mod, ScatterND and Dropout refuse what they cannot fold, in one line naming the node",
          "[compiler][canon]") {
  {
    ModelBuilder b(17);
    b.input("x", {1, 4}).output("y");
    b.node("Dropout", {"x", b.scalar("ratio", 0.5f), bools(b, "training", {true})}, "y");
    CHECK_THROWS_WITH(import_model(b.bytes()), Catch::Contains("training_mode must be a constant false"));
  }
  {
    ModelBuilder b(17);
    b.input("x", {1, 4}).output("y");
    b.node("Mod", {ints4(b, "a", {1, 2, 3, 4}), ints4(b, "z", {1, 0, 1, 1})}, "m");
    b.node("Cast", {"m"}, "mf");
    attr(last(b), "to", int64_t{1});
    b.node("Add", {"x", "mf"}, "y");
    CHECK_THROWS_WITH(import_model(b.bytes()), Catch::Contains("integer modulo by zero"));
  }
  {
    ModelBuilder b(17);
    b.input("x", {1, 4}).output("y");
    b.node("ScatterND",
           {b.f32("d", {4}, {0, 0, 0, 0}), b.ints("i", {1, 1}, kInt64, {4}), b.f32("u", {1}, {1})}, "s");
    b.node("Add", {"x", "s"}, "y");
    CHECK_THROWS_WITH(import_model(b.bytes()), Catch::Contains("index 4 is out of range for dimension 0"));
  }
}
