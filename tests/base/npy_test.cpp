// .npy reader/writer checked against NumPy itself (python3-numpy is a declared dependency).
#include "base/npy.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "base/file_io.h"

using namespace tpusim;
namespace fs = std::filesystem;

namespace {
// Each test case gets its own folder: ctest runs the cases of this file in parallel.
fs::path scratch(const std::string& test) {
  fs::path d = fs::path(TPUSIM_BINARY_DIR) / "tests" / "npy_work" / test;
  fs::create_directories(d);
  return d;
}
int python(const fs::path& dir, const std::string& code) {
  const fs::path script = dir / "script.py";
  write_file_atomic(script.string(), code);
  return std::system((std::string(TPUSIM_PYTHON) + " " + script.string()).c_str());
}
}  // namespace

TEST_CASE("reads what numpy writes, every supported dtype and versions 1 and 2", "[npy]") {
  const fs::path d = scratch("read");
  REQUIRE(
      python(
          d,
          "import numpy as np\n"
          "d='" +
              d.string() +
              "'\n"
              "for t in ['int8','uint8','int16','uint16','int32','uint32','int64','float32','float64']:\n"
              "    np.save(f'{d}/{t}.npy', (np.arange(24).reshape(2,3,4) - 7).astype(t))\n"
              "np.save(d+'/scalar.npy', np.float32(2.5))\n"
              "np.save(d+'/vec.npy', np.array([1.5, -2.25], dtype=np.float32))\n"
              "np.lib.format.write_array(open(d+'/v2.npy','wb'), np.ones((3,), np.int8), version=(2,0))\n") ==
      0);
  for (const char* t :
       {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "float32", "float64"}) {
    INFO(t);
    const NpyArray a = load_npy((d / (std::string(t) + ".npy")).string());
    REQUIRE(std::string(npy_type_name(a.type)) == t);
    REQUIRE(a.shape == std::vector<int64_t>{2, 3, 4});
    const bool is_unsigned = t[0] == 'u';
    for (uint64_t i = 0; i < 24; ++i) {
      const int64_t want = static_cast<int64_t>(i) - 7;
      if (is_unsigned && want < 0) continue;  // wrapped by numpy's astype
      REQUIRE(a.at_f64(i) == static_cast<double>(want));
    }
  }
  const NpyArray s = load_npy((d / "scalar.npy").string());
  REQUIRE(s.shape.empty());
  REQUIRE(s.at_f64(0) == 2.5);
  const NpyArray v = load_npy((d / "vec.npy").string());
  REQUIRE(v.shape == std::vector<int64_t>{2});
  REQUIRE(v.at_f64(1) == -2.25);
  const NpyArray v2 = load_npy((d / "v2.npy").string());
  REQUIRE(v2.elements() == 3);
  REQUIRE(v2.at_i64(2) == 1);
}

TEST_CASE("numpy reads what we write", "[npy]") {
  const fs::path d = scratch("write");
  const std::vector<int32_t> vals{-128, 0, 5, 127, 1, 2};
  save_npy(make_npy_i32({2, 3}, vals, NpyType::I8), (d / "w_i8.npy").string());
  save_npy(make_npy_i32({6}, vals, NpyType::I32), (d / "w_i32.npy").string());
  const std::vector<float> f{0.5f, -1.25f, 3.0f};
  save_npy(make_npy_f32({3, 1}, f), (d / "w_f32.npy").string());
  REQUIRE(python(d,
                 "import numpy as np\n"
                 "d='" +
                     d.string() +
                     "'\n"
                     "a=np.load(d+'/w_i8.npy'); assert a.dtype==np.int8 and a.shape==(2,3), a\n"
                     "assert a.ravel().tolist()==[-128,0,5,127,1,2]\n"
                     "b=np.load(d+'/w_i32.npy'); assert b.dtype==np.int32 and b.shape==(6,)\n"
                     "c=np.load(d+'/w_f32.npy'); assert c.dtype==np.float32 and c.shape==(3,1)\n"
                     "assert c.ravel().tolist()==[0.5,-1.25,3.0]\n") == 0);
}

TEST_CASE("bad .npy files give one error naming the file", "[npy]") {
  auto err = [](std::vector<uint8_t> b) {
    try {
      parse_npy(b, "x.npy");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::vector<int32_t> vals{1, 2, 3};
  std::vector<uint8_t> good = encode_npy(make_npy_i32({3}, vals, NpyType::I32));
  REQUIRE(err(good) == "no error");
  CHECK(err({}) == "x.npy: not a .npy file (bad magic)");
  CHECK(err({'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'}) == "x.npy: not a .npy file (bad magic)");
  auto truncated = good;
  truncated.pop_back();
  CHECK(err(truncated) == "x.npy: .npy data is 11 bytes, shape needs 12");
  auto header_cut = std::vector<uint8_t>(good.begin(), good.begin() + 30);
  CHECK(err(header_cut) == "x.npy: truncated .npy header");
  auto bad_version = good;
  bad_version[6] = 9;
  CHECK(err(bad_version) == "x.npy: unsupported .npy version 9.0");
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s(good.begin(), good.end());
    s.replace(s.find(from), from.size(), to);
    return std::vector<uint8_t>(s.begin(), s.end());
  };
  CHECK(err(replace("<i4", ">i4")).find("unsupported npy dtype '>i4'") != std::string::npos);
  CHECK(err(replace("<i4", "<c8")).find("unsupported npy dtype '<c8'") != std::string::npos);
  CHECK(err(replace("False", "True ")) == "x.npy: Fortran-order arrays are not supported");
  CHECK(err(replace("(3,)", "(a,)")) == "x.npy: malformed npy shape (a,)");
  CHECK(err(replace("(3,)", "(99999999999999,)")).find("is too large") != std::string::npos);
  REQUIRE_THROWS_WITH(load_npy("/nonexistent/in.npy"), Catch::StartsWith("/nonexistent/in.npy: cannot read"));
}
