// ONNX export (qat/onnx_export.h) through tpusim's compiler: the QDQ exports import and lower,
// and their integer reference agrees with the FP32 interpreter within one output step (layer by
// layer, and on the scores); the FP32 exports run in the FP32 interpreter as a plain C++ forward
// written here does.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>

#include "compiler/fp32_interp.h"
#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "tests/qat/export_fixtures.h"
#include "tests/support/onnx_builders.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace export_test;
using models::LayerKind;

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
    // vit_tiny: export_transformer_test.cpp (its integer LayerNorm and softmax are not roundings of
    // the float ops, so the one-step bound below does not apply).
    if (models::model_spec(name).transformer()) continue;
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
    if (models::model_spec(name).transformer()) continue;  // export_transformer_test.cpp
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
