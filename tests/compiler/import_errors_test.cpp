// Malformed models: each gives one error line naming the file and, where there is one, the node
// and its op type.
#include <catch2/catch.hpp>
#include <filesystem>

#include "base/error.h"
#include "base/file_io.h"
#include "compiler/onnx_import.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;
namespace fs = std::filesystem;

namespace {
std::string file_error(const std::string& path) {
  try {
    import_onnx(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}
fs::path scratch() {
  fs::path d = fs::path(TPUSIM_BINARY_DIR) / "tests" / "compiler_errors_work";
  fs::create_directories(d);
  return d;
}
// x [1,16,8,8] -> Conv 'conv3' with weight w3 [8,cin,3,3].
ModelBuilder conv_model(int64_t cin, bool with_weight = true) {
  ModelBuilder b;
  b.input("x", {1, 16, 8, 8}).output("y");
  if (with_weight) b.f32("w3", {8, cin, 3, 3}, std::vector<float>(static_cast<size_t>(8 * cin * 9), 0.1f));
  b.node("Conv", {"x", "w3"}, "y", "conv3");
  return b;
}
}  // namespace

TEST_CASE("unsupported ops name the node and op type", "[compiler][errors]") {
  ModelBuilder b;
  b.input("x", {1, 10}).output("y");
  b.node("LogSoftmax", {"x"}, "y", "sm");
  CHECK(import_error(b.bytes()) ==
        "m.onnx: node 'sm' (LogSoftmax): unsupported op at opset 13 (supported ops: docs/compiler.md, "
        "\"Operators\")");
  ModelBuilder d;
  d.input("x", {1, 10}).output("y");
  d.node("Relu", {"x"}, "y", "r").set_domain("com.microsoft");
  CHECK(import_error(d.bytes()) ==
        "m.onnx: node 'r' (Relu): unsupported op in domain 'com.microsoft' (supported "
        "ops: docs/compiler.md, \"Operators\")");
}

TEST_CASE("a missing initializer or input names the node", "[compiler][errors]") {
  CHECK(import_error(conv_model(16, false).bytes()) ==
        "m.onnx: node 'conv3' (Conv): input 'w3' is not a graph input, an initializer or another node's "
        "output");
  ModelBuilder b;
  b.input("x", {1, 4}).output("y");
  b.node("Relu", {"x"}, "r");
  b.node("Add", {"r", "nowhere"}, "y", "add1");
  CHECK(import_error(b.bytes()) ==
        "m.onnx: node 'add1' (Add): input 'nowhere' is not a graph input, an initializer or another node's "
        "output");
  ModelBuilder o;
  o.input("x", {1, 4}).output("z");
  o.node("Relu", {"x"}, "y");
  CHECK(import_error(o.bytes()) == "m.onnx: graph output 'z' is not produced by any node");
}

TEST_CASE("inconsistent shapes name the node and the tensors", "[compiler][errors]") {
  CHECK(import_error(conv_model(3).bytes()) ==
        "m.onnx: node 'conv3' (Conv): weight 'w3' has 3 input channels, input has 16");
  {
    ModelBuilder b = conv_model(4);
    attr(*b.proto().mutable_graph()->mutable_node(0), "group", int64_t{2});
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'conv3' (Conv): weight 'w3' has 4 input channels per group (2 groups), input has 16");
  }
  {
    ModelBuilder b;
    b.input("x", {1, 16, 8, 8}).output("y");
    b.node("Add", {"x", b.f32("c", {8, 1, 1}, std::vector<float>(8, 1.0f))}, "y", "add");
    CHECK(
        import_error(b.bytes()) ==
        "m.onnx: node 'add' (Add): inputs 'x' [1, 16, 8, 8] and 'c' [8, 1, 1] cannot be broadcast together");
  }
  {
    ModelBuilder b;
    b.input("x", {2, 5}).output("y");
    attr(b.node("Gemm", {"x", b.f32("w", {6, 3}, std::vector<float>(18, 1.0f))}, "y", "fc"), "transB",
         int64_t{0});
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'fc' (Gemm): A 'x' [2, 5] (transA=0) and B 'w' [6, 3] (transB=0) disagree on K: 5 vs "
          "6");
  }
  {
    ModelBuilder b;
    b.input("x", {2, 6}).output("y");
    b.node("Reshape", {"x", b.ints("s", {2}, kInt64, {5, -1})}, "y", "rs");
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'rs' (Reshape): cannot reshape input 'x' [2, 6] to [5, -1]");
  }
  {
    ModelBuilder b;
    b.input("x", {1, 3, 4, 4}).output("y");
    auto& q = b.node("QuantizeLinear",
                     {"x", b.f32("s", {4}, {1, 1, 1, 1}), b.ints("z", {4}, kInt8, {0, 0, 0, 0})}, "y", "q");
    attr(q, "axis", int64_t{1});
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'q' (QuantizeLinear): 4 scales along axis 1, input 'x' [1, 3, 4, 4] has 3 there");
  }
  {
    ModelBuilder b;  // an int8 tensor straight into a float op
    b.input("x", {1, 4}).output("y");
    b.node("QuantizeLinear", {"x", b.scalar("s", 0.1f), b.ints("z", {}, kInt8, {0})}, "q");
    b.node("Relu", {"q"}, "y", "relu");
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'relu' (Relu): input 'q' is int8, expected float32 (is a DequantizeLinear missing?)");
  }
}

TEST_CASE("unsupported attribute values are rejected with the reason", "[compiler][errors]") {
  {
    ModelBuilder b = conv_model(16);
    attr(*b.proto().mutable_graph()->mutable_node(0), "auto_pad", std::string("SAME"));
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'conv3' (Conv): auto_pad=SAME is not an ONNX value (NOTSET, "
          "VALID, SAME_UPPER, SAME_LOWER)");
  }
  {
    ModelBuilder b;
    b.input("x", {1, 4}).output("y");
    b.node("Clip", {"x", "x"}, "y", "clip");
    CHECK(import_error(b.bytes()) ==
          "m.onnx: node 'clip' (Clip): min 'x' must be a constant (an initializer or a Constant node)");
  }
}

TEST_CASE("external data and dynamic dimensions are rejected", "[compiler][errors]") {
  ModelBuilder b = conv_model(16);
  auto* w = b.proto().mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
  auto* e = w->add_external_data();
  e->set_key("location");
  e->set_value("weights.bin");
  CHECK(import_error(b.bytes()) ==
        "m.onnx: initializer 'w3': external data is not supported (save the model with its weights inside "
        "the .onnx file)");
  ModelBuilder d;
  d.input("x", {-1, 4, -1}).output("y");
  d.node("Relu", {"x"}, "y");
  CHECK(import_error(d.bytes()) ==
        "m.onnx: input 'x': dimension 2 is dynamic ('N'); only the batch dimension may be");
  ModelBuilder z;
  z.input("x", {1, 0, 4}).output("y");
  z.node("Relu", {"x"}, "y");
  CHECK(import_error(z.bytes()) == "m.onnx: input 'x': dimension 1 is 0 (empty tensors are not supported)");
  ModelBuilder r = conv_model(16);
  r.proto().mutable_graph()->mutable_initializer(0)->set_raw_data("abc");
  CHECK(import_error(r.bytes()) ==
        "m.onnx: initializer 'w3': raw_data has 3 bytes, shape [8, 16, 3, 3] of float32 needs 4608");
}

TEST_CASE("files that are not ONNX models give one error naming the file", "[compiler][errors]") {
  const fs::path d = scratch();
  const std::string good = test_model("conv_bn_relu_pool", 1).bytes;
  const std::string empty = (d / "empty.onnx").string();
  write_file_atomic(empty, std::string_view{});
  CHECK(file_error(empty) == empty + ": empty file, not an ONNX model");
  const std::string text = (d / "text.onnx").string();
  write_file_atomic(text, std::string_view{"hello world, this is not a model\n"});
  CHECK(file_error(text).starts_with(text + ": not an ONNX model"));
  const std::string npy = (d / "array.onnx").string();
  write_file_atomic(
      npy,
      std::string_view{"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"});
  CHECK(file_error(npy).starts_with(npy + ": not an ONNX model"));
  for (size_t cut : {good.size() / 2, good.size() - 1, size_t{7}}) {
    INFO("cut at " << cut);
    const std::string trunc = (d / "truncated.onnx").string();
    write_file_atomic(trunc, std::string_view(good).substr(0, cut));
    CHECK(file_error(trunc).starts_with(trunc + ": not an ONNX model"));
  }
  CHECK(
      file_error((d / "missing.onnx").string()).starts_with((d / "missing.onnx").string() + ": cannot read"));
  const std::string ok = (d / "ok.onnx").string();
  write_file_atomic(ok, good);
  CHECK(import_onnx(ok).source == ok);
}

TEST_CASE("mutated model bytes import or fail with an Error, never crash", "[compiler][errors][fuzz]") {
  std::mt19937 rng(2024);
  int imported = 0, rejected = 0;
  for (const char* name : {"conv_bn_relu_pool", "qdq_int8", "qdq_int4", "mlp"}) {
    const std::string good = test_model(name, 1).bytes;
    for (int trial = 0; trial < 300; ++trial) {
      std::string b = good;
      const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
      for (int e = 0; e < edits; ++e) {
        const size_t at = std::uniform_int_distribution<size_t>(0, b.size() - 1)(rng);
        switch (std::uniform_int_distribution<int>(0, 2)(rng)) {
          case 0: b[at] = static_cast<char>(rng()); break;
          case 1: b[at] = static_cast<char>(b[at] ^ (1 << (rng() % 8))); break;
          default: b.resize(at + 1); break;
        }
      }
      const std::string err = import_error(b);
      (err == "no error" ? imported : rejected)++;
      CHECK(err.rfind("m.onnx: ", 0) == (err == "no error" ? std::string::npos : 0));
      CHECK(err.find('\n') == std::string::npos);
    }
  }
  WARN("mutated models: " << imported << " imported, " << rejected << " rejected with an error");
  CHECK(rejected > 0);
}
