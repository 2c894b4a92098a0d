// ONNX export (qat/onnx_export.h), structure: every zoo model at every bit width re-read through
// libonnx's classes holds exactly the integers, scales, zero points and types the test drew, with
// Clips only where a grid is narrower than its container; a DeployModel that does not match its
// spec is one error line naming the layer; the file is written atomically.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "base/error.h"
#include "base/file_io.h"
#include "qat/onnx_export.h"
#include "tests/qat/export_fixtures.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace export_test;
namespace fs = std::filesystem;

TEST_CASE("export: the re-read model holds exactly the trained integers, scales and types", "[qat][export]") {
  for (const std::string& name : models::model_names()) {
    for (const Bits& b : kConfigs) {
      if (unsupported(name, &b)) continue;
      for (const bool four_bit_types : {false, true}) {
        INFO(name << " " << b.name << (four_bit_types ? " (int4/uint4 types)" : ""));
        const Case c = make_case(name, &b, 1);
        const Model m(qat::export_onnx_bytes(c.m, {four_bit_types}));
        // Sub-8-bit grids in 8-bit containers (opset 13) unless asked for int4/uint4 types (opset 21).
        const bool four = four_bit_types && (b.w <= 4 || b.in <= 4 || b.a <= 4);
        const auto act_type = [&](const QuantSpec& s) {
          return four_bit_types ? onnx_type(s) : container_type(s);
        };
        REQUIRE(m.proto.opset_import_size() == 1);
        // LayerNormalization (vit_tiny) needs opset 17.
        const bool transformer = c.m.spec.transformer();
        CHECK(m.proto.opset_import(0).version() == (four ? 21 : transformer ? 17 : 13));
        const std::vector<models::ModelSpec::Shape> shapes = c.m.spec.shapes();
        CHECK(m.proto.ir_version() == (four ? 10 : 8));
        const auto& in = m.proto.graph().input(0).type().tensor_type();
        CHECK(m.proto.graph().input(0).name() == "image");
        CHECK(in.shape().dim(0).dim_param() == "N");
        CHECK(in.shape().dim(1).dim_value() == c.m.spec.in_ch);
        CHECK(m.proto.graph().output(0).name() == "scores");
        m.check_grid("image", c.m.input, act_type(c.m.input.spec));
        CHECK(m.producer.count("image_clip") == (c.m.input.spec.bits < 8 && !four_bit_types ? 1u : 0u));
        int clips = 0;
        for (size_t i = 0; i < c.m.spec.layers.size(); ++i) {
          const models::Layer& l = c.m.spec.layers[i];
          const qat::DeployLayer& d = c.m.layers[i];
          INFO("layer " << l.name);
          if (d.has_out) m.check_grid(l.name, d.out, act_type(d.out.spec));
          clips += m.producer.count(l.name + "_clip");
          if (!c.q.count(i)) continue;
          // Weights: the integers the test drew, per-channel scales bit for bit, zero points 0.
          const auto n = static_cast<int64_t>(c.q.at(i).size());
          const onnx::TensorProto& wq = m.at(l.name + ".weight_q");
          CHECK(wq.data_type() == (b.w <= 4 && four_bit_types ? testing::kInt4 : testing::kInt8));
          // A Linear on tokens is a MatMul: its weight is [in, out], quantized along axis 1.
          const bool tokens = l.inputs[0] != models::kImage && shapes[static_cast<size_t>(l.inputs[0])].seq;
          CHECK(wq.dims(0) == (tokens ? l.in_ch : l.out_ch));
          std::vector<int64_t> got = ints_of(wq, n);
          if (tokens) {
            std::vector<int64_t> t(got.size());
            for (int64_t o = 0; o < l.out_ch; ++o)
              for (int64_t k = 0; k < l.in_ch; ++k) t[o * l.in_ch + k] = got[k * l.out_ch + o];
            got = t;
          }
          CHECK(std::equal(got.begin(), got.end(), c.q.at(i).begin()));
          CHECK(floats_of(m.at(l.name + ".weight_scale")) == d.w_scale);
          CHECK(m.at(l.name + ".weight_zero_point").data_type() == wq.data_type());
          CHECK(ints_of(m.at(l.name + ".weight_zero_point"), l.out_ch) == std::vector<int64_t>(l.out_ch, 0));
          const onnx::NodeProto& dq = *m.producer.at(l.name + ".weight");
          CHECK(dq.op_type() == "DequantizeLinear");
          CHECK(dq.input(0) == l.name + ".weight_q");
          // Bias: int32 at float(s_in * s_w[c]), rounded half to even.
          const float s_in = l.inputs[0] == models::kImage ? c.m.input.scale : c.grid[l.inputs[0]].scale;
          std::vector<float> bs;
          std::vector<int64_t> bq;
          for (int64_t oc = 0; oc < l.out_ch; ++oc) {
            bs.push_back(s_in * d.w_scale[oc]);
            bq.push_back(static_cast<int64_t>(std::nearbyint(double(d.bias[oc]) / bs.back())));
          }
          if (tokens) {  // the Add's float bias holds exactly those integers times the step
            const std::vector<float> bf = floats_of(m.at(l.name + ".bias"));
            REQUIRE(bf.size() == bq.size());
            for (size_t oc = 0; oc < bq.size(); ++oc) CHECK(bf[oc] == static_cast<float>(bq[oc]) * bs[oc]);
            continue;
          }
          CHECK(m.at(l.name + ".bias_q").data_type() == testing::kInt32);
          CHECK(ints_of(m.at(l.name + ".bias_q"), l.out_ch) == bq);
          CHECK(floats_of(m.at(l.name + ".bias_scale")) == bs);
        }
        // A Clip exactly where the output grid is narrower than its container: never at 8 bits
        // (full grids), at every grid layer below 8 bits in 8-bit containers, and at 2 bits only
        // when 4-bit grids fill their int4/uint4 container.
        int own = 0;
        for (const auto& d : c.m.layers) own += d.has_out;
        CHECK(clips == (b.a == 2 || (b.a == 4 && !four_bit_types) ? own : 0));
      }
    }
  }
}

TEST_CASE("export: a DeployModel that does not match its spec is one error line naming the layer",
          "[qat][export]") {
  const Case base = make_case("lenet5", &kConfigs[0], 8);  // conv1, pool1, conv2, pool2, flatten, fc1, fc2
  auto error_of = [](const qat::DeployModel& m) -> std::string {
    try {
      qat::export_onnx_bytes(m);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  struct Bad {
    const char* want;
    void (*mutate)(qat::DeployModel&);
  };
  const Bad bad[] = {
      {"layer 'conv1' (Conv): weight has 287 values, expected 288",
       [](qat::DeployModel& m) { m.layers[0].weight.pop_back(); }},
      {"layer 'fc1' (Linear): bias has 127 values, expected 128 (or none)",
       [](qat::DeployModel& m) { m.layers[5].bias.pop_back(); }},
      {"layer 'conv2' (Conv): w_scale has 0 values, expected one per output channel (64)",
       [](qat::DeployModel& m) { m.layers[2].w_scale.clear(); }},
      {"layer 'fc2' (Linear): output quantization parameters (out) are missing",
       [](qat::DeployModel& m) { m.layers[6].has_out = false; }},
      {"layer 'conv1' (Conv): weight[3] = ",
       [](qat::DeployModel& m) { m.layers[0].weight[3] += 0.3f * m.layers[0].w_scale[0]; }},
      {"is 128 steps, outside the 8-bit signed narrow grid [-127, 127]",
       [](qat::DeployModel& m) { m.layers[5].weight[7] = 128 * m.layers[5].w_scale[0]; }},
      {"layer 'conv2' (Conv): w_scale[4] = 0 is not > 0",
       [](qat::DeployModel& m) { m.layers[2].w_scale[4] = 0; }},
      {"layer 'fc1' (Linear): output scale -0.5 is not > 0",
       [](qat::DeployModel& m) { m.layers[5].out.scale = -0.5f; }},
      {"layer 'fc2' (Linear): output zero point 300 is outside its 8-bit signed grid [-128, 127]",
       [](qat::DeployModel& m) { m.layers[6].out.zero_point = 300; }},
      {"layer 'conv2' (Conv): output grid: ", [](qat::DeployModel& m) { m.layers[2].out.spec.bits = 9; }},
      {"layer 'conv1' (Conv): weight grid must be signed",
       [](qat::DeployModel& m) {
         m.layers[0].w_spec = QuantSpec{8, false};
       }},
      {"'lenet5': input 'image': quantization scale 0 is not > 0",
       [](qat::DeployModel& m) { m.input.scale = 0; }},
      {"'lenet5': 6 layer parameter sets for 7 spec layers",
       [](qat::DeployModel& m) { m.layers.pop_back(); }},
      {"layer 'pool1' (MaxPool): has output parameters (out) other than its input's",
       [](qat::DeployModel& m) { m.layers[1].has_out = true, m.layers[1].out.scale = 9.0f; }},
  };
  for (const Bad& b : bad) {
    qat::DeployModel m = base.m;
    b.mutate(m);
    const std::string e = error_of(m);
    INFO(e);
    CHECK(e.rfind("ONNX export of 'lenet5': ", 0) == 0);
    CHECK(e.find(b.want) != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
  }
  CHECK(error_of(base.m) == "(no error)");
  // The file: written atomically, the same bytes; an unwritable path is an Error naming it.
  const fs::path dir = scratch("file");
  qat::export_onnx(base.m, (dir / "m.onnx").string());
  const std::vector<uint8_t> f = read_file_bytes((dir / "m.onnx").string());
  CHECK(std::string(f.begin(), f.end()) == bytes_of(base));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);  // no temporary left
  REQUIRE_THROWS_WITH(qat::export_onnx(base.m, (dir / "missing" / "m.onnx").string()),
                      Catch::Contains("missing/m.onnx"));
}
