// ONNX Runtime (onnxruntime-node through tests/support/ort/run_ort.js) as the independent reference
// of the compiler's ORT tests: one model with integer input "x" and output "y".
#pragma once
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/file_io.h"
#include "base/npy.h"

namespace orttest {

// ORT's output "y" of model `bytes` on x, run in the fresh folder build/tests/<dir>.
inline std::vector<int64_t> run_ort_y(const std::string& bytes, const tpusim::NpyArray& x,
                                      const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d = fs::path(TPUSIM_BINARY_DIR) / "tests" / dir;
  fs::remove_all(d);
  fs::create_directories(d);
  tpusim::write_file_atomic((d / "m.onnx").string(), bytes);
  tpusim::save_npy(x, (d / "x.npy").string());
  const std::string cmd = "node " + std::string(TPUSIM_SOURCE_DIR) +
                          "/tests/support/ort/run_ort.js --ort-dir " + std::string(TPUSIM_ORT_DIR) + " " +
                          (d / "m.onnx").string() + " " + (d / "out").string() +
                          " x=" + (d / "x.npy").string() + " >" + (d / "stdout.txt").string() + " 2>" +
                          (d / "stderr.txt").string();
  if (std::system(cmd.c_str()) != 0)
    FAIL("ONNX Runtime (run_ort.js) failed: " << tpusim::read_file_text((d / "stderr.txt").string()));
  const tpusim::NpyArray y = tpusim::load_npy((d / "out" / "y.npy").string());
  std::vector<int64_t> v;
  for (uint64_t i = 0; i < y.elements(); ++i) v.push_back(y.at_i64(i));
  return v;
}

}  // namespace orttest
