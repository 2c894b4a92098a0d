// ONNX export (qat/onnx_export.h) of every zoo model with random weights on their grids and random
// positive scales, checked against independent readers: the bytes re-read through libonnx's
// classes (exact integers and scales), tpusim's compiler (import, lowering, integer reference vs
// FP32 interpreter), a plain C++ forward written here (FP32 export) and ONNX Runtime.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "compiler/fp32_interp.h"
#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "compiler/tensor_io.h"
#include "isa/error.h"
#include "isa/file_io.h"
#include "onnx_builders.h"
#include "qat/onnx_export.h"

using namespace tpusim;
using namespace tpusim::compiler;
using models::LayerKind;
namespace fs = std::filesystem;

namespace {

// Weight bits, activation bits, image bits.
struct Bits {
  const char* name;
  int w, a, in;
};
constexpr Bits kConfigs[] = {{"w8a8", 8, 8, 8}, {"w4a4", 4, 4, 4}, {"w2a2", 2, 2, 8}};

// A deploy model as training would hand it over, plus what the test knows independently: each
// weight layer's integers, and each layer's output grid as the test derives it from the spec.
struct Case {
  qat::DeployModel m;
  std::map<size_t, std::vector<int32_t>> q;  // layer -> weight integers
  std::vector<QuantParams> grid;             // layer -> output grid (MaxPool/Flatten: the input's)
};

Case make_case(const std::string& model, const Bits* bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Case c;
  qat::DeployModel& m = c.m;
  m.spec = models::model_spec(model);
  m.quantized = bits != nullptr;
  if (bits) m.input = {1.0f / static_cast<float>((1 << bits->in) - 1), 0, QuantSpec{bits->in, false}};
  std::vector<bool> nonneg;  // whether the layer's output is >= 0 (then an unsigned grid)
  for (size_t i = 0; i < m.spec.layers.size(); ++i) {
    const models::Layer& l = m.spec.layers[i];
    const int src = l.inputs[0];
    const bool in_nonneg = src == models::kImage || nonneg[static_cast<size_t>(src)];
    const QuantParams in_grid = src == models::kImage ? m.input : c.grid[static_cast<size_t>(src)];
    qat::DeployLayer d;
    if (l.kind == LayerKind::Conv || l.kind == LayerKind::Linear) {
      const int64_t fan_in = l.kind == LayerKind::Conv ? l.in_ch / l.groups * l.kernel * l.kernel : l.in_ch;
      const float a = std::sqrt(6.0f / static_cast<float>(fan_in));  // He: keeps ReLU nets at O(1)
      if (bits) {
        d.w_spec = QuantSpec{bits->w, true, true};
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
    const bool own = l.kind != LayerKind::MaxPool && l.kind != LayerKind::Flatten;
    nonneg.push_back(own && l.kind != LayerKind::GlobalAvgPool ? l.act == models::Activation::Relu
                                                               : in_nonneg);
    if (bits && own) {
      d.has_out = true;
      QuantSpec s{bits->a, !nonneg.back()};
      const float range = 1.5f + 1.5f * u(rng);
      const int32_t zp =
          s.is_signed ? std::uniform_int_distribution<int32_t>(s.qmin() / 4, s.qmax() / 4)(rng) : 0;
      d.out = {range / static_cast<float>(s.qmax() - s.qmin()) * (s.is_signed ? 2.0f : 1.0f), zp, s};
    }
    c.grid.push_back(d.has_out ? d.out : in_grid);
    m.layers.push_back(std::move(d));
  }
  return c;
}

// --- independent readers of TensorProtos ---------------------------------------------------------

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
  // Checks an activation's scale and zero point initializers: exact values, storage type.
  void check_grid(const std::string& prefix, const QuantParams& p) const {
    INFO(prefix);
    CHECK(floats_of(at(prefix + "_scale")) == std::vector<float>{p.scale});
    CHECK(at(prefix + "_zero_point").data_type() == onnx_type(p.spec));
    CHECK(ints_of(at(prefix + "_zero_point"), 1) == std::vector<int64_t>{p.zero_point});
  }
};

std::string bytes_of(const Case& c) { return qat::export_onnx_bytes(c.m); }

TensorMap random_image(const qat::DeployModel& m, int64_t batch, uint32_t seed) {
  std::mt19937 rng(seed);
  const Shape s{batch, m.spec.in_ch, m.spec.height, m.spec.width};
  return {{"image", make_f32("image", s, testing::uniform(rng, static_cast<size_t>(num_elements(s)), 0, 1))}};
}

}  // namespace

TEST_CASE("export: the re-read model holds exactly the trained integers, scales and types", "[qat][export]") {
  for (const std::string& name : models::model_names()) {
    for (const Bits& b : kConfigs) {
      INFO(name << " " << b.name);
      const Case c = make_case(name, &b, 1);
      const Model m(bytes_of(c));
      const bool four = b.w <= 4 || b.a <= 4 || b.in <= 4;
      REQUIRE(m.proto.opset_import_size() == 1);
      CHECK(m.proto.opset_import(0).version() == (four ? 21 : 13));
      CHECK(m.proto.ir_version() == (four ? 10 : 8));
      const auto& in = m.proto.graph().input(0).type().tensor_type();
      CHECK(m.proto.graph().input(0).name() == "image");
      CHECK(in.shape().dim(0).dim_param() == "N");
      CHECK(in.shape().dim(1).dim_value() == c.m.spec.in_ch);
      CHECK(m.proto.graph().output(0).name() == "scores");
      m.check_grid("image", c.m.input);
      int clips = 0;
      for (size_t i = 0; i < c.m.spec.layers.size(); ++i) {
        const models::Layer& l = c.m.spec.layers[i];
        const qat::DeployLayer& d = c.m.layers[i];
        INFO("layer " << l.name);
        if (d.has_out) m.check_grid(l.name, d.out);
        clips += m.producer.count(l.name + "_clip");
        if (!c.q.count(i)) continue;
        // Weights: the integers the test drew, per-channel scales bit for bit, zero points 0.
        const auto n = static_cast<int64_t>(c.q.at(i).size());
        const onnx::TensorProto& wq = m.at(l.name + ".weight_q");
        CHECK(wq.data_type() == (b.w <= 4 ? testing::kInt4 : testing::kInt8));
        CHECK(wq.dims(0) == l.out_ch);
        const std::vector<int64_t> got = ints_of(wq, n);
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
        CHECK(m.at(l.name + ".bias_q").data_type() == testing::kInt32);
        CHECK(ints_of(m.at(l.name + ".bias_q"), l.out_ch) == bq);
        CHECK(floats_of(m.at(l.name + ".bias_scale")) == bs);
      }
      // A Clip exactly where the output grid is narrower than its int4/int8 container: never at
      // 8 bits (full grids), at every grid layer at 2 bits; 4-bit grids fill their container.
      int own = 0;
      for (const auto& d : c.m.layers) own += d.has_out;
      CHECK(clips == (b.a == 2 ? own : 0));
    }
  }
}

namespace {

struct Steps {
  int64_t n = 0, off = 0, beyond_one = 0, worst = 0;
  void add(int64_t s) {
    ++n, off += s != 0, beyond_one += s > 1;
    worst = std::max(worst, s);
  }
};

// The FP32 run's integer tensors as integer-graph values (inputs for one layer at a time).
IntValues fp_integers(const IntGraph& ig, const TensorMap& fp) {
  IntValues r;
  for (const auto& [name, t] : ig.tensors) {
    auto it = fp.find(name);
    if (!t.view_of.empty() || it == fp.end() || is_float(it->second.type)) continue;
    r[name] = IntValue{t.shape, t.dtype, t.scale, t.zero_point,
                       std::vector<int32_t>(it->second.ints.begin(), it->second.ints.end())};
  }
  return r;
}

const Node& node_named(const Graph& g, const std::string& name) {
  auto it = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.name == name; });
  INFO("node " << name);
  REQUIRE(it != g.nodes.end());
  return *it;
}

}  // namespace

TEST_CASE(
    "export: the compiler lowers the QDQ export and its integer reference agrees with the FP32 interpreter",
    "[qat][export]") {
  const int64_t batch = 6;
  for (const std::string& name : models::model_names()) {
    for (const Bits& b : kConfigs) {
      INFO(name << " " << b.name);
      const Case c = make_case(name, &b, 2);
      const Graph g = testing::import_model(bytes_of(c), batch);
      const IntGraph ig = lower_qdq(g);
      const TensorMap in = random_image(c.m, batch, 3);
      const TensorMap fp = run_fp32(g, in);
      const IntRun run = run_int(ig, quantize_inputs(ig, in));
      CHECK(run.acc_overflows.empty());
      // The scores within one output step: QuantizeLinear rounds x / s, and where that lies
      // within float error of a .5 tie the two interpreters (exact int32 sums + M0·2^-shift vs
      // float sums) may pick neighbouring integers; a flipped integer upstream moves later ones
      // by a step now and then, not more.
      const IntValue& y = run.values.at(ig.outputs[0]);
      const std::vector<float> ydq = dequantize(y);
      const Tensor& fy = fp.at("scores");
      REQUIRE(fy.elements() == static_cast<int64_t>(ydq.size()));
      Steps out;
      for (size_t i = 0; i < ydq.size(); ++i) out.add(std::llround(std::fabs(ydq[i] - fy.f32[i]) / y.scale));
      CHECK(out.worst <= 1);
      // Each layer alone, on the FP32 run's integers as input: at most one step apart (the tie
      // argument above, once; and a GlobalAveragePool onto a coarser grid, which the pool unit
      // rounds twice, at the input grid and then at the output's, docs/compiler.md). Whole-model differences
      // compound through the layers (a flipped input integer moves a conv output by |w| s_in / s_out steps),
      // so they are only reported.
      IntValues vals = fp_integers(ig, fp);
      Steps isolated, whole;
      for (const IOp& op : ig.ops) {
        if (!vals.count(op.output)) continue;
        const IntValue ref = vals.at(op.output);
        run_int_op(ig, op, vals);
        for (size_t k = 0; k < ref.data.size(); ++k) {
          isolated.add(std::abs(vals.at(op.output).data[k] - ref.data[k]));
          whole.add(std::abs(run.values.at(op.output).data[k] - ref.data[k]));
        }
        vals[op.output] = ref;
      }
      WARN(name << " " << b.name << ": integers off, layer by layer " << isolated.off << "/" << isolated.n
                << ", whole model " << whole.off << " (>1: " << whole.beyond_one << ", worst " << whole.worst
                << "); scores off " << out.off << "/" << out.n);
      CHECK(isolated.worst <= 1);
      CHECK(isolated.off * 1000 <= isolated.n);
      if (b.a != 2) continue;
      // 2-bit grids in int4/uint4 containers: every integer the reference computes stays on the
      // 2-bit grid; where the float before the Clip goes past the grid's end by more than a step
      // (QuantizeLinear alone would then give qmax + 1 or more), the integers sit at qmax.
      int clipped_layers = 0;
      for (size_t i = 0; i < c.m.spec.layers.size(); ++i) {
        const qat::DeployLayer& d = c.m.layers[i];
        if (!d.has_out) continue;
        const std::string& ln = c.m.spec.layers[i].name;
        INFO("layer " << ln);
        const std::vector<int32_t>& v = run.values.at(ln + "_q").data;
        CHECK(*std::min_element(v.begin(), v.end()) >= d.out.spec.qmin());
        CHECK(*std::max_element(v.begin(), v.end()) <= d.out.spec.qmax());
        const Tensor& pre = fp.at(node_named(g, ln + "_clip").inputs[0]);
        const float hi = static_cast<float>(d.out.spec.qmax() - d.out.zero_point) * d.out.scale;
        if (*std::max_element(pre.f32.begin(), pre.f32.end()) > hi + d.out.scale) {
          ++clipped_layers;
          CHECK(*std::max_element(v.begin(), v.end()) == d.out.spec.qmax());
        }
      }
      CHECK(clipped_layers >= 2);
    }
  }
}

namespace {

// The FP32 network written out plainly over the spec (NCHW, double sums): the reference the FP32
// export is compared with.
std::vector<double> forward(const qat::DeployModel& m, const std::vector<float>& image, int64_t batch) {
  const models::ModelSpec& s = m.spec;
  const std::vector<models::ModelSpec::Shape> shapes = s.shapes();
  std::vector<std::vector<double>> out;
  const std::vector<double> img(image.begin(), image.end());
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const models::Layer& l = s.layers[i];
    const qat::DeployLayer& d = m.layers[i];
    auto in_shape = [&](int j) {
      return j == models::kImage ? models::ModelSpec::Shape{s.in_ch, s.height, s.width} : shapes[j];
    };
    const models::ModelSpec::Shape xs = in_shape(l.inputs[0]), ys = shapes[i];
    const std::vector<double>& x = l.inputs[0] == models::kImage ? img : out[l.inputs[0]];
    std::vector<double> y(static_cast<size_t>(batch * ys.c * ys.h * ys.w), 0.0);
    auto at = [](const std::vector<double>& v, const models::ModelSpec::Shape& sh, int64_t n, int64_t c,
                 int64_t h,
                 int64_t w) { return v[static_cast<size_t>(((n * sh.c + c) * sh.h + h) * sh.w + w)]; };
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t c = 0; c < ys.c; ++c)
        for (int64_t h = 0; h < ys.h; ++h)
          for (int64_t w = 0; w < ys.w; ++w) {
            double v = 0;
            switch (l.kind) {
              case LayerKind::Conv: {
                const int64_t cpg = l.in_ch / l.groups, g = c / (l.out_ch / l.groups);
                v = d.bias[c];
                for (int64_t ic = 0; ic < cpg; ++ic)
                  for (int64_t kh = 0; kh < l.kernel; ++kh)
                    for (int64_t kw = 0; kw < l.kernel; ++kw) {
                      const int64_t ih = h * l.stride - l.pad + kh, iw = w * l.stride - l.pad + kw;
                      if (ih < 0 || iw < 0 || ih >= xs.h || iw >= xs.w) continue;
                      v += d.weight[((c * cpg + ic) * l.kernel + kh) * l.kernel + kw] *
                           at(x, xs, n, g * cpg + ic, ih, iw);
                    }
                break;
              }
              case LayerKind::Linear:
                v = d.bias[c];
                for (int64_t k = 0; k < l.in_ch; ++k) v += d.weight[c * l.in_ch + k] * x[n * l.in_ch + k];
                break;
              case LayerKind::MaxPool:
                v = -INFINITY;
                for (int64_t kh = 0; kh < l.pool; ++kh)
                  for (int64_t kw = 0; kw < l.pool; ++kw)
                    v = std::max(v, at(x, xs, n, c, h * l.pool + kh, w * l.pool + kw));
                break;
              case LayerKind::GlobalAvgPool:
                for (int64_t ih = 0; ih < xs.h; ++ih)
                  for (int64_t iw = 0; iw < xs.w; ++iw) v += at(x, xs, n, c, ih, iw) / double(xs.h * xs.w);
                break;
              case LayerKind::Add: v = at(x, xs, n, c, h, w) + at(out[l.inputs[1]], xs, n, c, h, w); break;
              case LayerKind::Flatten: v = x[n * ys.c + c]; break;
            }
            if (l.act == models::Activation::Relu) v = std::max(v, 0.0);
            y[((n * ys.c + c) * ys.h + h) * ys.w + w] = v;
          }
    out.push_back(std::move(y));
  }
  return out.back();
}

}  // namespace

TEST_CASE("export: the FP32 export runs in the compiler's FP32 interpreter as the plain forward does",
          "[qat][export]") {
  const int64_t batch = 3;
  for (const std::string& name : models::model_names()) {
    INFO(name);
    const Case c = make_case(name, nullptr, 4);
    const std::string bytes = bytes_of(c);
    const Model m(bytes);
    CHECK(m.proto.opset_import(0).version() == 13);
    for (const auto& n : m.proto.graph().node())  // no QuantizeLinear / DequantizeLinear
      CHECK(n.op_type().find("Linear") == std::string::npos);
    for (size_t i = 0; i < c.m.spec.layers.size(); ++i)
      if (!c.m.layers[i].weight.empty())
        CHECK(floats_of(m.at(c.m.spec.layers[i].name + ".weight")) == c.m.layers[i].weight);
    const TensorMap in = random_image(c.m, batch, 5);
    const TensorMap fp = run_fp32(testing::import_model(bytes, batch), in);
    const Tensor& y = fp.at("scores");
    const std::vector<double> ref = forward(c.m, in.at("image").f32, batch);
    REQUIRE(y.shape == Shape{batch, c.m.spec.classes});
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      worst = std::max(worst, std::fabs(y.f32[i] - ref[i]) / (1 + std::fabs(ref[i])));
    // float32 sums of up to 800 products against double ones: ~1e-6 relative.
    CHECK(worst <= 1e-5);
  }
}

namespace {

fs::path scratch(const std::string& sub) {
  fs::path d = fs::path(TPUSIM_BINARY_DIR) / "tests" / "qat_export_work" / sub;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// ONNX Runtime's "scores" for the model in dir/model.onnx on dir/image.npy, with graph
// optimisations `opt` ("disabled": the QDQ graph as written; "all": ORT's fused integer kernels).
std::vector<float> run_ort(const fs::path& dir, const std::string& opt) {
  const std::string cmd = "node " + std::string(TPUSIM_SOURCE_DIR) + "/tests/ort/run_ort.js --ort-dir " +
                          std::string(TPUSIM_ORT_DIR) + " --opt " + opt + " " +
                          (dir / "model.onnx").string() + " " + (dir / "out").string() +
                          " image=" + (dir / "image.npy").string() + " >" + (dir / "stdout.txt").string() +
                          " 2>" + (dir / "stderr.txt").string();
  if (std::system(cmd.c_str()) != 0)
    FAIL("ONNX Runtime (run_ort.js) failed: " << read_file_text((dir / "stderr.txt").string())
                                              << "(install it with scripts/setup_ort.sh " << TPUSIM_ORT_DIR
                                              << ")");
  const NpyArray a = load_npy((dir / "out" / "scores.npy").string());
  std::vector<float> v;
  for (uint64_t i = 0; i < a.elements(); ++i) v.push_back(static_cast<float>(a.at_f64(i)));
  return v;
}

}  // namespace

// Tolerances: FP32, both sides sum in float32 in different orders (1e-5 relative, as in
// compiler_ort_test.cpp). QDQ, within one output step for the same .5-tie reason as above. The
// int8 exports run a second time with ORT's optimisations on (QLinearConv and friends, integer
// arithmetic with its own requant), as deployed; int4 is left at "disabled" (ORT 1.30's optimiser
// rejects its own rewrite of a MaxPool on uint4, see compiler_ort_test.cpp).
TEST_CASE("export: ONNX Runtime loads the QDQ and FP32 exports and agrees with the FP32 interpreter",
          "[qat][export][ort]") {
  const int64_t batch = 4;
  for (const std::string& name : models::model_names()) {
    for (const Bits* b : {static_cast<const Bits*>(nullptr), &kConfigs[0], &kConfigs[1], &kConfigs[2]}) {
      const std::string tag = name + "_" + (b ? b->name : "fp32");
      INFO(tag);
      const Case c = make_case(name, b, 6);
      const fs::path dir = scratch(tag);
      qat::export_onnx(c.m, (dir / "model.onnx").string());
      const TensorMap in = random_image(c.m, batch, 7);
      save_npy(to_npy(in.at("image")), (dir / "image.npy").string());
      const Graph g = import_onnx((dir / "model.onnx").string(), ImportOptions{batch});
      const TensorMap fp = run_fp32(g, in);
      const Tensor& y = fp.at("scores");
      for (const char* opt : {"disabled", "all"}) {
        if (std::string(opt) == "all" && !(b && b->w == 8)) continue;
        INFO("ORT optimisations " << opt);
        const std::vector<float> ort = run_ort(dir, opt);
        REQUIRE(ort.size() == y.f32.size());
        const float step = b ? c.m.layers.back().out.scale : 0.0f;
        int64_t off = 0;
        for (size_t i = 0; i < ort.size(); ++i) {
          const float diff = std::fabs(ort[i] - y.f32[i]);
          off += diff > 0;
          if (b)
            CHECK(diff <= step * (1 + 1e-5f));
          else
            CHECK(diff <= 1e-5f * (1 + std::fabs(ort[i])));
        }
        if (b)
          WARN(tag << " (" << opt << "): " << off << " of " << ort.size() << " scores a step from ORT's");
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
