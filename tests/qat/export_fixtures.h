// Fixtures of the ONNX export tests (export_*_test.cpp): deploy models with random weights on
// their grids and random positive scales, plus what the test knows about them independently, and
// readers of the exported bytes through libonnx's classes (not through tpusim's importer).
#pragma once
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "compiler/fp32_interp.h"
#include "qat/deploy_model.h"

namespace export_test {

using tpusim::QuantParams;
using tpusim::QuantSpec;

// Weight bits, activation bits, image bits; `mixed`: the first weight layer and the last layer at
// W8A8 instead (what `--layer NAME=w8a8` overrides give).
struct Bits {
  const char* name;
  int w, a, in;
  bool mixed = false;
};
inline constexpr Bits kConfigs[] = {{"w8a8", 8, 8, 8}, {"w4a4", 4, 4, 4}, {"w2a2", 2, 2, 8}};
// Every variant `tpusim qat/ptq` exports: the above, W4A8 and mixed precision.
inline constexpr Bits kAllConfigs[] = {{"w8a8", 8, 8, 8},
                                       {"w4a8", 4, 8, 8},
                                       {"w4a4", 4, 4, 4},
                                       {"w2a2", 2, 2, 8},
                                       {"mixed_w4a4", 4, 4, 8, true}};

// A deploy model as training would hand it over, plus what the test knows independently: each
// weight layer's integers, and each layer's output grid as the test derives it from the spec.
struct Case {
  tpusim::qat::DeployModel m;
  std::map<size_t, std::vector<int32_t>> q;  // layer -> weight integers
  std::vector<QuantParams> grid;             // layer -> output grid (MaxPool/Flatten: the input's)
};

// Transformers take 8- and 4-bit activations only (QuantNet refuses others): such cases are skipped.
bool unsupported(const std::string& model, const Bits* bits);
// `bits` null: an FP32 model.
Case make_case(const std::string& model, const Bits* bits, uint32_t seed);
std::string bytes_of(const Case& c);
// `batch` random images in [0, 1) as the input "image".
tpusim::compiler::TensorMap random_image(const tpusim::qat::DeployModel& m, int64_t batch, uint32_t seed);
// An empty directory build/tests/qat_export_work/<sub>.
std::filesystem::path scratch(const std::string& sub);

// --- independent readers of TensorProtos ---------------------------------------------------------

std::vector<float> floats_of(const onnx::TensorProto& t);
std::vector<int64_t> ints_of(const onnx::TensorProto& t, int64_t count);
int32_t onnx_type(const QuantSpec& s);
// An activation's type in the default export: the 8-bit type of the grid's signedness.
int32_t container_type(const QuantSpec& s);

struct Model {
  onnx::ModelProto proto;
  std::map<std::string, const onnx::TensorProto*> init;
  std::map<std::string, const onnx::NodeProto*> producer;
  explicit Model(const std::string& bytes) {
    REQUIRE(proto.ParseFromString(bytes));
    for (const auto& t : proto.graph().initializer()) init[t.name()] = &t;
    for (const auto& n : proto.graph().node()) producer[n.output(0)] = &n;
  }
  const onnx::TensorProto& at(const std::string& name) const {
    INFO("initializer " << name);
    REQUIRE(init.count(name));
    return *init.at(name);
  }
  // Checks an activation's scale and zero point initializers: exact values, ONNX type.
  void check_grid(const std::string& prefix, const QuantParams& p, int32_t type) const {
    INFO(prefix);
    CHECK(floats_of(at(prefix + "_scale")) == std::vector<float>{p.scale});
    CHECK(at(prefix + "_zero_point").data_type() == type);
    CHECK(ints_of(at(prefix + "_zero_point"), 1) == std::vector<int64_t>{p.zero_point});
  }
};

}  // namespace export_test
