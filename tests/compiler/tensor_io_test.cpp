// .npz archives (base/npz.h) and per-layer dumps (compiler/tensor_io.h), checked against numpy.
#include "compiler/tensor_io.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "base/error.h"
#include "base/file_io.h"
#include "base/npz.h"
#include "compiler/fp32_interp.h"
#include "compiler/onnx_import.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;
namespace fs = std::filesystem;

namespace {
fs::path scratch() {
  fs::path d = fs::path(TPUSIM_BINARY_DIR) / "tests" / "compiler_npz_work";
  fs::create_directories(d);
  return d;
}
// Each test case passes its own script name: ctest runs the cases in parallel.
int python(const std::string& script_name, const std::string& code) {
  const fs::path script = scratch() / script_name;
  write_file_atomic(script.string(), code);
  return std::system((std::string(TPUSIM_PYTHON) + " " + script.string()).c_str());
}
std::vector<NpzMember> sample() {
  const std::vector<int32_t> i8{-128, 0, 127, 5};
  const std::vector<float> f{0.5f, -1.25f, 3.0f, 1e-3f, 7.0f, -0.0f};
  return {{"weights", make_npy_f32({2, 3}, f)},
          {"q", make_npy_i32({4}, i8, NpyType::I8)},
          {"scalar", make_npy_f32({}, std::vector<float>{2.5f})},
          {"empty", make_npy_f32({0, 3}, std::vector<float>{})}};
}
}  // namespace

TEST_CASE("npz round trip and byte-for-byte determinism", "[npz]") {
  const auto m = sample();
  const auto bytes = encode_npz(m);
  CHECK(bytes == encode_npz(m));
  const auto back = parse_npz(bytes, "a.npz");
  REQUIRE(back.size() == m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    CHECK(back[i].name == m[i].name);
    CHECK(back[i].array.shape == m[i].array.shape);
    CHECK(back[i].array.type == m[i].array.type);
    CHECK(back[i].array.data == m[i].array.data);
  }
  CHECK(parse_npz(encode_npz(std::vector<NpzMember>{}), "e.npz").empty());
}

TEST_CASE("numpy reads what we write and we read what numpy writes (stored and deflated)", "[npz]") {
  const fs::path d = scratch();
  save_npz(sample(), (d / "ours.npz").string());
  REQUIRE(
      python("roundtrip.py",
             "import numpy as np\n"
             "d='" +
                 d.string() +
                 "'\n"
                 "z=np.load(d+'/ours.npz')\n"
                 "assert sorted(z.files)==['empty','q','scalar','weights'], z.files\n"
                 "assert z['weights'].dtype==np.float32 and z['weights'].shape==(2,3)\n"
                 "assert z['weights'].ravel().tolist()==[0.5,-1.25,3.0,np.float32(1e-3),7.0,0.0]\n"
                 "assert z['q'].dtype==np.int8 and z['q'].tolist()==[-128,0,127,5]\n"
                 "assert z['scalar'].shape==() and z['scalar']==2.5\n"
                 "assert z['empty'].shape==(0,3)\n"
                 "a=np.arange(12,dtype=np.int32).reshape(3,4)-6\n"
                 "np.savez(d+'/np.npz', a=a, b=np.float64(1.5), c=np.ones((2,2),np.uint8))\n"
                 "np.savez_compressed(d+'/npc.npz', a=a, big=np.linspace(0,1,5000,dtype=np.float32))\n") ==
      0);
  for (const char* f : {"np.npz", "npc.npz"}) {
    INFO(f);
    const auto z = load_npz((d / f).string());
    REQUIRE(z.size() == 2 + (f[2] == '.' ? 1 : 0));
    CHECK(z[0].name == "a");
    CHECK(z[0].array.shape == std::vector<int64_t>{3, 4});
    for (uint64_t i = 0; i < 12; ++i) CHECK(z[0].array.at_i64(i) == static_cast<int64_t>(i) - 6);
  }
  const auto c = load_npz((d / "npc.npz").string());
  CHECK(c[1].name == "big");
  CHECK(c[1].array.elements() == 5000);
  CHECK(c[1].array.at_f64(4999) == 1.0);
}

TEST_CASE("bad archives and names give one error", "[npz]") {
  auto bytes = encode_npz(sample());
  CHECK_THROWS_WITH(parse_npz(std::vector<uint8_t>{}, "x.npz"), "x.npz: not a .npz file (no zip header)");
  const std::vector<uint8_t> half(bytes.begin(),
                                  bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2));
  CHECK_THROWS_WITH(parse_npz(half, "x.npz"), Catch::StartsWith("x.npz: truncated .npz"));
  auto corrupt = bytes;
  corrupt[100] ^= 0xFF;  // inside the first member's data
  CHECK_THROWS_WITH(parse_npz(corrupt, "x.npz"), Catch::Contains("crc32 mismatch"));
  const std::vector<NpzMember> bad{{"../evil", make_npy_f32({1}, std::vector<float>{1})}};
  CHECK_THROWS_WITH(encode_npz(bad), "npz member name '../evil' is empty or unsafe");
  const std::vector<NpzMember> dup{{"a", make_npy_f32({1}, std::vector<float>{1})},
                                   {"a", make_npy_f32({1}, std::vector<float>{1})}};
  CHECK_THROWS_WITH(save_npz(dup, "/tmp/x.npz"), "/tmp/x.npz: npz member name 'a' is duplicated");
}

TEST_CASE("per-layer dump: every tensor of an FP32 run, sanitised names, numpy sees the same arrays",
          "[npz][compiler]") {
  CHECK(sanitize_member_name("/conv1/Conv_output_0") == "_conv1_Conv_output_0");
  CHECK(sanitize_member_name("a..b:c") == "a._b_c");
  CHECK(sanitize_member_name("") == "_");
  const fs::path d = scratch();
  const std::string bytes = test_model("qdq_int8", 2).bytes;
  const Graph g = import_onnx_bytes(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
                                    "q.onnx", ImportOptions{2});
  std::mt19937 rng(4);
  TensorMap r = run_fp32(g, {{"x", make_f32("x", g.tensor("x").shape, uniform(rng, 512, -1, 1))}});
  r["/odd/name:0"] = make_f32("/odd/name:0", {2}, {1, 2});
  r["_odd_name_0"] = make_f32("_odd_name_0", {1}, {3});
  const auto names = save_tensors_npz(r, (d / "dump.npz").string());
  std::map<std::string, std::string> member(names.begin(), names.end());
  CHECK(member.at("/odd/name:0") == "_odd_name_0");
  CHECK(member.at("_odd_name_0") == "_odd_name_0__1");
  // Write each tensor separately as .npy; numpy compares them with the archive's members.
  std::string checks = "import numpy as np\nz=np.load('" + (d / "dump.npz").string() + "')\n";
  for (const auto& [name, t] : r) {
    const std::string f = (d / (member.at(name) + ".npy")).string();
    save_npy(to_npy(t), f);
    checks += "a=np.load('" + f + "'); b=z['" + member.at(name) +
              "']\n"
              "assert a.dtype==b.dtype and a.shape==b.shape and np.array_equal(a,b), '" +
              member.at(name) + "'\n";
  }
  checks += "assert len(z.files)==" + std::to_string(r.size()) +
            "\n"
            "assert z['xq_q'].dtype==np.int8 and z['y'].dtype==np.float32 and z['y'].shape==(2,10)\n";
  REQUIRE(python("dump.py", checks) == 0);
  const auto back = load_npz((d / "dump.npz").string());
  CHECK(back.size() == r.size());
}
