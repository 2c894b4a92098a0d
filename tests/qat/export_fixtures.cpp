#include "tests/qat/export_fixtures.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "qat/onnx_export.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using models::LayerKind;
namespace fs = std::filesystem;

namespace export_test {

namespace {

// LayerNorm's gamma/beta, the class token / position embedding (on a per-tensor grid of `a_bits`,
// 0 = FP32) and the attention's inner grids (Q*K^T signed, softmax unsigned on about [0, 1]).
void add_transformer_params(const models::Layer& l, const models::ModelSpec::Shape& s, int a_bits,
                            std::mt19937& rng, qat::DeployLayer& d) {
  const auto D = static_cast<size_t>(s.c);
  if (l.kind == LayerKind::LayerNorm) {
    d.gamma = testing::uniform(rng, D, 0.5f, 1.5f);
    d.beta = testing::uniform(rng, D, -0.2f, 0.2f);
  } else if (l.kind == LayerKind::ClassToken || l.kind == LayerKind::PosEmbed) {
    const size_t n = l.kind == LayerKind::ClassToken ? D : D * static_cast<size_t>(s.h);
    d.weight = testing::uniform(rng, n, -0.5f, 0.5f);
    if (a_bits == 0) return;
    const QuantSpec spec{a_bits, true};
    d.constant = {1.0f / static_cast<float>(spec.qmax()), spec.qmin() / 8, spec};
    for (float& v : d.weight) {
      const float q =
          std::clamp(std::nearbyint(v / d.constant.scale) + static_cast<float>(d.constant.zero_point),
                     static_cast<float>(spec.qmin()), static_cast<float>(spec.qmax()));
      v = (q - static_cast<float>(d.constant.zero_point)) * d.constant.scale;
    }
  } else if (l.kind == LayerKind::Attention && a_bits > 0) {
    const QuantSpec sg{a_bits, true}, us{a_bits, false};
    d.inner = {{4.0f / static_cast<float>(sg.qmax() - sg.qmin()), 0, sg},
               {1.0f / static_cast<float>(us.qmax()), 0, us}};
  }
}

}  // namespace

bool unsupported(const std::string& model, const Bits* bits) {
  return bits && models::model_spec(model).transformer() && bits->a != 8 && bits->a != 4;
}

Case make_case(const std::string& model, const Bits* bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Case c;
  qat::DeployModel& m = c.m;
  m.spec = models::model_spec(model);
  m.quantized = bits != nullptr;
  if (bits) m.input = {1.0f / static_cast<float>((1 << bits->in) - 1), 0, QuantSpec{bits->in, false}};
  std::vector<bool> nonneg;  // whether the layer's output is >= 0 (then an unsigned grid)
  size_t first_weighted = m.spec.layers.size();
  for (size_t i = 0; i < m.spec.layers.size() && first_weighted == m.spec.layers.size(); ++i)
    if (m.spec.layers[i].kind == LayerKind::Conv || m.spec.layers[i].kind == LayerKind::Linear)
      first_weighted = i;
  const std::vector<models::ModelSpec::Shape> shapes = m.spec.shapes();
  std::vector<bool> symmetric(m.spec.layers.size());  // attention's K and V: zero point 0
  for (const models::Layer& l : m.spec.layers)
    if (l.kind == LayerKind::Attention)
      symmetric[static_cast<size_t>(l.inputs[1])] = symmetric[static_cast<size_t>(l.inputs[2])] = true;
  for (size_t i = 0; i < m.spec.layers.size(); ++i) {
    const models::Layer& l = m.spec.layers[i];
    const bool eight = bits && bits->mixed && (i == first_weighted || i + 1 == m.spec.layers.size());
    const int w_bits = bits ? (eight ? 8 : bits->w) : 0, a_bits = bits ? (eight ? 8 : bits->a) : 0;
    const int src = l.inputs[0];
    const bool in_nonneg = src == models::kImage || nonneg[static_cast<size_t>(src)];
    const QuantParams in_grid = src == models::kImage ? m.input : c.grid[static_cast<size_t>(src)];
    qat::DeployLayer d;
    if (l.kind == LayerKind::Conv || l.kind == LayerKind::Linear) {
      const int64_t fan_in = l.kind == LayerKind::Conv ? l.in_ch / l.groups * l.kernel * l.kernel : l.in_ch;
      const float a = std::sqrt(6.0f / static_cast<float>(fan_in));  // He: keeps ReLU nets at O(1)
      if (bits) {
        d.w_spec = QuantSpec{w_bits, true, true};
        const int32_t qmax = d.w_spec.qmax();
        std::uniform_int_distribution<int32_t> qd(-qmax, qmax);
        std::vector<int32_t>& q = c.q[i];
        for (int64_t oc = 0; oc < l.out_ch; ++oc) {
          d.w_scale.push_back(a / static_cast<float>(qmax) * (0.7f + 0.6f * u(rng)));
          for (int64_t k = 0; k < fan_in; ++k) {
            q.push_back(qd(rng));
            d.weight.push_back(static_cast<float>(q.back()) * d.w_scale.back());
          }
        }
      } else {
        d.weight = testing::uniform(rng, static_cast<size_t>(l.out_ch * fan_in), -a, a);
      }
      d.bias = testing::uniform(rng, static_cast<size_t>(l.out_ch), -0.1f, 0.1f);
    }
    add_transformer_params(l, shapes[i], bits ? a_bits : 0, rng, d);
    const bool own = l.kind != LayerKind::MaxPool && l.kind != LayerKind::Flatten &&
                     l.kind != LayerKind::Tokens && l.kind != LayerKind::ClassSelect;
    nonneg.push_back(own && l.kind != LayerKind::GlobalAvgPool ? l.act == models::Activation::Relu
                                                               : in_nonneg);
    if (bits && own) {
      d.has_out = true;
      QuantSpec s{a_bits, !nonneg.back()};
      const float range = 1.5f + 1.5f * u(rng);
      const int32_t zp = s.is_signed && !symmetric[i]
                             ? std::uniform_int_distribution<int32_t>(s.qmin() / 4, s.qmax() / 4)(rng)
                             : 0;
      d.out = {range / static_cast<float>(s.qmax() - s.qmin()) * (s.is_signed ? 2.0f : 1.0f), zp, s};
    }
    c.grid.push_back(d.has_out ? d.out : in_grid);
    m.layers.push_back(std::move(d));
  }
  return c;
}

std::vector<float> floats_of(const onnx::TensorProto& t) {
  REQUIRE(t.data_type() == onnx::TensorProto::FLOAT);
  std::vector<float> v(t.raw_data().size() / 4);
  std::memcpy(v.data(), t.raw_data().data(), v.size() * 4);
  return v;
}

std::vector<int64_t> ints_of(const onnx::TensorProto& t, int64_t count) {
  const int32_t type = t.data_type();
  const int64_t bytes = type == testing::kInt32   ? 4 * count
                        : type >= testing::kUInt4 ? (count + 1) / 2
                                                  : count;
  REQUIRE(static_cast<int64_t>(t.raw_data().size()) == bytes);
  const auto* b = reinterpret_cast<const uint8_t*>(t.raw_data().data());
  std::vector<int64_t> v;
  for (int64_t i = 0; i < count; ++i) {
    switch (type) {
      case testing::kInt8: v.push_back(static_cast<int8_t>(b[i])); break;
      case testing::kUInt8: v.push_back(b[i]); break;
      case testing::kInt32: {
        uint32_t u = 0;
        for (int k = 3; k >= 0; --k) u = u << 8 | b[4 * i + k];  // little-endian
        v.push_back(static_cast<int32_t>(u));
        break;
      }
      case testing::kUInt4:
      case testing::kInt4: {
        const int nib = (b[i / 2] >> (4 * (i % 2))) & 0xF;  // two per byte, low nibble first
        v.push_back(type == testing::kInt4 && nib >= 8 ? nib - 16 : nib);
        break;
      }
      default: FAIL("unexpected type " << type);
    }
  }
  return v;
}

int32_t onnx_type(const QuantSpec& s) {
  if (s.bits <= 4) return s.is_signed ? testing::kInt4 : testing::kUInt4;
  return s.is_signed ? testing::kInt8 : testing::kUInt8;
}

int32_t container_type(const QuantSpec& s) { return s.is_signed ? testing::kInt8 : testing::kUInt8; }

std::string bytes_of(const Case& c) { return qat::export_onnx_bytes(c.m); }

TensorMap random_image(const qat::DeployModel& m, int64_t batch, uint32_t seed) {
  std::mt19937 rng(seed);
  const Shape s{batch, m.spec.in_ch, m.spec.height, m.spec.width};
  return {{"image", make_f32("image", s, testing::uniform(rng, static_cast<size_t>(num_elements(s)), 0, 1))}};
}

fs::path scratch(const std::string& sub) {
  fs::path d = fs::path(TPUSIM_BINARY_DIR) / "tests" / "qat_export_work" / sub;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace export_test
