// The QAT exporter on vit_tiny (qat/onnx_export_transformer.cpp): the FP32 export runs in the
// compiler's FP32 interpreter as a plain double-precision ViT written here does; the QDQ exports at
// W8A8 and W4A8 lower to the integer graph the machine runs (LayerNorm, softmax, MatMuls of two
// activations with symmetric K and V, the class token and position embedding as constants) and
// their integer reference tracks the FP32 interpretation of the same QDQ model (W4A4 reported).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "compiler/fp32_interp.h"
#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "tests/qat/export_fixtures.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace export_test;
using models::LayerKind;

namespace {

using Seq = std::vector<std::vector<double>>;  // [tokens][features] of one image

Seq linear(const qat::DeployLayer& d, const models::Layer& l, const Seq& x) {
  Seq y(x.size(), std::vector<double>(static_cast<size_t>(l.out_ch)));
  for (size_t t = 0; t < x.size(); ++t)
    for (int64_t o = 0; o < l.out_ch; ++o) {
      double v = d.bias[o];
      for (int64_t k = 0; k < l.in_ch; ++k) v += d.weight[o * l.in_ch + k] * x[t][k];
      y[t][o] = v;
    }
  return y;
}

// One image through the spec, layer by layer, in doubles; returns the class scores.
std::vector<double> vit_forward(const qat::DeployModel& m, const float* image) {
  const models::ModelSpec& s = m.spec;
  std::vector<Seq> out;
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const models::Layer& l = s.layers[i];
    const qat::DeployLayer& d = m.layers[i];
    const Seq empty;
    const Seq& x = l.inputs[0] == models::kImage ? empty : out[l.inputs[0]];
    Seq y;
    switch (l.kind) {
      case LayerKind::Conv: {  // the patch embedding, as tokens directly: [T = 7*7][D]
        const int64_t g = s.height / l.stride;
        for (int64_t ph = 0; ph < g; ++ph)
          for (int64_t pw = 0; pw < g; ++pw) {
            std::vector<double> v(static_cast<size_t>(l.out_ch));
            for (int64_t o = 0; o < l.out_ch; ++o) {
              v[o] = d.bias[o];
              for (int64_t kh = 0; kh < l.kernel; ++kh)
                for (int64_t kw = 0; kw < l.kernel; ++kw)
                  v[o] += d.weight[(o * l.kernel + kh) * l.kernel + kw] *
                          image[(ph * l.stride + kh) * s.width + pw * l.stride + kw];
            }
            y.push_back(v);
          }
        break;
      }
      case LayerKind::Tokens: y = x; break;
      case LayerKind::ClassToken:
        y.emplace_back(d.weight.begin(), d.weight.end());
        y.insert(y.end(), x.begin(), x.end());
        break;
      case LayerKind::PosEmbed:
        y = x;
        for (size_t t = 0; t < y.size(); ++t)
          for (size_t c = 0; c < y[t].size(); ++c) y[t][c] += d.weight[t * y[t].size() + c];
        break;
      case LayerKind::LayerNorm:
        y = x;
        for (auto& row : y) {
          double mu = 0, var = 0;
          for (double v : row) mu += v / static_cast<double>(row.size());
          for (double v : row) var += (v - mu) * (v - mu) / static_cast<double>(row.size());
          for (size_t c = 0; c < row.size(); ++c)
            row[c] = (row[c] - mu) / std::sqrt(var + models::kLayerNormEps) * d.gamma[c] + d.beta[c];
        }
        break;
      case LayerKind::Linear: y = linear(d, l, x); break;
      case LayerKind::Gelu:
        y = x;
        for (auto& row : y)
          for (double& v : row) v = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        break;
      case LayerKind::Attention: {
        const Seq &q = out[l.inputs[0]], &k = out[l.inputs[1]], &v = out[l.inputs[2]];
        const size_t T = q.size(), D = q[0].size(), hd = D / static_cast<size_t>(l.heads);
        y.assign(T, std::vector<double>(D, 0.0));
        for (size_t h = 0; h < static_cast<size_t>(l.heads); ++h)
          for (size_t t = 0; t < T; ++t) {
            std::vector<double> p(T);
            double mx = -INFINITY, sum = 0;
            for (size_t u = 0; u < T; ++u) {
              for (size_t e = h * hd; e < (h + 1) * hd; ++e) p[u] += q[t][e] * k[u][e];
              mx = std::max(mx, p[u]);
            }
            for (double& e : p) sum += (e = std::exp(e - mx));
            for (size_t u = 0; u < T; ++u)
              for (size_t e = h * hd; e < (h + 1) * hd; ++e) y[t][e] += p[u] / sum * v[u][e];
          }
        break;
      }
      case LayerKind::Add:
        y = x;
        for (size_t t = 0; t < y.size(); ++t)
          for (size_t c = 0; c < y[t].size(); ++c) y[t][c] += out[l.inputs[1]][t][c];
        break;
      case LayerKind::ClassSelect: y = {x[0]}; break;
      default: FAIL("unexpected layer kind in vit_tiny: " << models::name(l.kind));
    }
    out.push_back(std::move(y));
  }
  return out.back()[0];
}

}  // namespace

TEST_CASE("export: vit_tiny's FP32 export runs in the FP32 interpreter as a plain ViT does",
          "[qat][export]") {
  const int64_t batch = 2;
  const Case c = make_case("vit_tiny", nullptr, 4);
  const std::string bytes = bytes_of(c);
  const Model m(bytes);
  CHECK(m.proto.opset_import(0).version() == 17);  // LayerNormalization
  for (const auto& n : m.proto.graph().node()) CHECK(n.op_type().find("QuantizeLinear") == std::string::npos);
  const TensorMap in = random_image(c.m, batch, 5);
  const TensorMap fp = run_fp32(testing::import_model(bytes, batch), in);
  const Tensor& y = fp.at("scores");
  REQUIRE(y.shape == Shape{batch, c.m.spec.classes});
  double worst = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const std::vector<double> ref = vit_forward(c.m, in.at("image").f32.data() + n * 28 * 28);
    for (size_t k = 0; k < ref.size(); ++k)
      worst = std::max(worst, std::fabs(y.f32[n * 10 + k] - ref[k]) / (1 + std::fabs(ref[k])));
  }
  CHECK(worst <= 1e-4);  // float32 through 4 blocks of LayerNorm/softmax against doubles
}

TEST_CASE("export: vit_tiny's QDQ exports lower to the machine's transformer ops", "[qat][export]") {
  const int64_t batch = 3;
  for (const Bits* b : {&kAllConfigs[0], &kAllConfigs[1], &kAllConfigs[2]}) {  // w8a8, w4a8, w4a4
    INFO(b->name);
    const Case c = make_case("vit_tiny", b, 7);
    const Graph g = testing::import_model(bytes_of(c), batch);
    const IntGraph ig = lower_qdq(g);
    int norms = 0, softmaxes = 0, act_matmuls = 0, constants = 0;
    for (const IOp& op : ig.ops) {
      norms += op.as<ILayerNorm>() != nullptr;
      softmaxes += op.as<ISoftmax>() != nullptr;
      if (op.as<IActMatmul>()) {
        ++act_matmuls;
        CHECK(ig.tensor(op.inputs[1]).zero_point == 0);  // K^T and V: symmetric
      }
    }
    for (const char* name : {"cls.weight", "pos.weight"})
      constants += ig.tensors.count(name) && !ig.tensor(name).data.empty();
    CHECK(norms == 9);  // two per block and the final one
    CHECK(softmaxes == 4);
    CHECK(act_matmuls == 8);
    CHECK(constants == 2);  // the class token and the position embedding (and its batch broadcast)
    const TensorMap in = random_image(c.m, batch, 3);
    const std::vector<float> want = run_fp32(g, in).at("scores").f32;
    const IntRun run = run_int(ig, quantize_inputs(ig, in));
    CHECK(run.acc_overflows.empty());
    const double cos = testing::cosine(dequantize(run.values.at(ig.outputs[0])), want);
    WARN(b->name << ": integer reference vs FP32 interpretation of the QDQ model, cosine " << cos);
    // At 4-bit activations one step of the softmax is 1/15 of its range: the integer softmax and
    // LayerNorm then depart from the float ops by more than rounding, compounding over 4 blocks
    // (measured 0.57 on this random model; vit_tiny's recipes keep 8-bit activations).
    if (b->a == 8) CHECK(cos >= 0.98);
  }
}
