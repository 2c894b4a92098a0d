// The cross-check between two independently written interpreters: the integer reference
// (int_interp.h) on the lowered graph against the FP32 interpreter (fp32_interp.h) running the same
// QDQ model, which performs ONNX QuantizeLinear/DequantizeLinear exactly. Tolerances and the
// figures they come from: docs/compiler.md, "Integer reference vs FP32 interpreter".
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "quant/quantize.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;
using namespace tpusim::testing;

namespace {

struct Agreement {
  int64_t elements = 0, equal = 0, within_one = 0, max_steps = 0;
  void add(int64_t steps) {
    ++elements;
    equal += steps == 0;
    within_one += steps <= 1;
    max_steps = std::max(max_steps, steps);
  }
  double off_fraction() const { return elements ? 1.0 - double(equal) / double(elements) : 0.0; }
  double beyond_one() const { return elements ? 1.0 - double(within_one) / double(elements) : 0.0; }
};

// Integer result `v` of tensor `name` against the FP32 run: the same integers where the QDQ model
// has that tensor (a QuantizeLinear output), else the float it materialises, in steps of v.scale.
bool compare(const IntValue& v, const std::string& name, const TensorMap& fp, Agreement& a) {
  auto it = fp.find(name);
  if (it == fp.end()) return false;  // e.g. the requant ahead of a Concat: not a tensor of the QDQ model
  const Tensor& t = it->second;
  REQUIRE(t.elements() == static_cast<int64_t>(v.data.size()));
  const std::vector<float> dq = dequantize(v);
  for (size_t i = 0; i < v.data.size(); ++i)
    a.add(is_float(t.type) ? std::llround(std::fabs(dq[i] - t.f32[i]) / v.scale)
                           : std::llabs(v.data[i] - t.ints[i]));
  return true;
}

// The FP32 run's integers as integer-graph values (float tensors it materialises are quantized:
// they lie on the grid, so exactly).
IntValues fp_values(const IntGraph& g, const TensorMap& fp) {
  IntValues r;
  for (const auto& [name, t] : g.tensors) {
    auto it = fp.find(name);
    if (!t.view_of.empty() || it == fp.end()) continue;
    IntValue v{t.shape, t.dtype, t.scale, t.zero_point, {}};
    for (int64_t i = 0; i < it->second.elements(); ++i)
      v.data.push_back(is_float(it->second.type)
                           ? quantize_linear(it->second.f32[i], t.scale, t.zero_point, t.dtype)
                           : static_cast<int32_t>(it->second.ints[i]));
    r[name] = std::move(v);
  }
  return r;
}

// Largest |q - (x / s + zp)| over the elements, x the float before the QuantizeLinear (clamped
// to the type's range, as QuantizeLinear saturates): 0.5 for a correctly rounded result.
double rounding_error(const IntValue& v, const Tensor& pre_quant) {
  double worst = 0;
  for (size_t i = 0; i < v.data.size(); ++i) {
    const double exact = static_cast<double>(pre_quant.f32[i]) / v.scale + v.zero_point;
    const double clamped = std::clamp(exact, double(traits(v.dtype).qmin), double(traits(v.dtype).qmax));
    worst = std::max(worst, std::fabs(v.data[i] - clamped));
  }
  return worst;
}

int64_t argmax(const float* v, int64_t n) { return std::max_element(v, v + n) - v; }

}  // namespace

TEST_CASE("integer reference vs FP32 interpreter on the QDQ models, layer by layer",
          "[compiler][int_interp]") {
  const int64_t batch = 1000;
  for (const TestModel& m : {test_model("qdq_int8", batch), test_model("qdq_uint8", batch),
                             test_model("qdq_int4", batch), qdq_depthwise(batch)}) {
    INFO(m.name);
    const Graph g = import_model(m.bytes, batch);
    const IntGraph ig = lower_qdq(g);
    std::mt19937 rng(11);
    const TensorMap in{
        {"x", make_f32("x", m.input_shape, uniform(rng, num_elements(m.input_shape), -1.0f, 1.0f))}};
    const TensorMap fp = run_fp32(g, in);
    const IntRun run = run_int(ig, quantize_inputs(ig, in));
    CHECK(run.acc_overflows.empty());
    CHECK(run.values.at(ig.inputs[0]).data ==
          std::vector<int32_t>(fp.at(ig.inputs[0]).ints.begin(), fp.at(ig.inputs[0]).ints.end()));
    // 1. Each layer on the FP32 run's own input integers: the result is the exact value the FP32
    //    interpreter computes before its QuantizeLinear, x / s + zp, rounded to nearest (ties
    //    either way; 0.02 step of slack for the float sums and the 2^-31 multiplier error), so at
    //    most one step from ONNX's integer. An average pool unit rounds twice (the mean at the input
    //    grid, then the requant): 0.5 + 0.5 * s_in / s_out.
    IntValues vals = fp_values(ig, fp);
    const IntValues fp_ints = vals;
    for (const IOp& op : ig.ops) {
      run_int_op(ig, op, vals);
      Agreement a;
      if (!compare(vals.at(op.output), op.output, fp, a)) continue;
      const ITensor& t = ig.tensor(op.output);
      double bound = 0.5;
      if (const IPool* p = op.as<IPool>(); p && p->mode == PoolMode::Avg && op.rq.mult[0].m0 != kM0Identity)
        bound += 0.5 * ig.tensor(op.inputs[0]).scale / t.scale;
      INFO(op.output << ": " << a.elements - a.equal << " of " << a.elements << " off, max " << a.max_steps);
      CHECK(rounding_error(vals.at(op.output), fp.at(t.float_name)) <= bound + 0.02);
      CHECK(a.max_steps <= 1);
      if (std::getenv("TPUSIM_LOWER_STATS"))
        std::printf("isolated %-14s %-16s off %6.3f%% max %lld rounding error %.4f\n", m.name.c_str(),
                    op.output.c_str(), 100 * a.off_fraction(), static_cast<long long>(a.max_steps),
                    rounding_error(vals.at(op.output), fp.at(t.float_name)));
      vals[op.output] = fp_ints.at(op.output);  // the next layer starts from FP32's integers again
    }
    // 2. The whole model, differences propagating: a one-step difference (mostly an average
    //    pool's tie, rounded away from zero by the pool unit, to even by ONNX) moves the next
    //    layers by a step here and there: >= 97 % of every layer within one step, all within 3.
    for (const IOp& op : ig.ops) {
      Agreement a;
      if (!compare(run.values.at(op.output), op.output, fp, a)) continue;
      INFO(op.output << ": " << a.elements - a.equal << " of " << a.elements << " off, max " << a.max_steps);
      CHECK(a.max_steps <= 3);
      CHECK(a.beyond_one() <= 0.03);
      if (std::getenv("TPUSIM_LOWER_STATS"))
        std::printf("%-14s %-16s off %6.3f%% >1: %6.3f%% max %lld\n", m.name.c_str(), op.output.c_str(),
                    100 * a.off_fraction(), 100 * a.beyond_one(), static_cast<long long>(a.max_steps));
    }
    // 3. Top-1 of the final output. Quantized logits tie often (a few classes on the same level):
    //    agreement means the two argmax sets intersect; the first-index argmax must agree too on
    //    >= 97 % (every disagreement seen was such a tie).
    const std::vector<float> y = dequantize(run.values.at(ig.outputs[0]));
    const Tensor& fy = fp.at(ig.float_outputs[0]);
    const int64_t classes = fy.shape.back();
    int64_t agree = 0, tied = 0;
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t a = argmax(&y[i * classes], classes), b = argmax(&fy.f32[i * classes], classes);
      agree += a == b;
      tied += a != b && (y[i * classes + a] == y[i * classes + b] ||
                         fy.f32[i * classes + a] == fy.f32[i * classes + b]);
    }
    if (std::getenv("TPUSIM_LOWER_STATS"))
      std::printf("%-14s top-1 agreement %lld/%lld, with ties %lld/%lld\n", m.name.c_str(), (long long)agree,
                  (long long)batch, (long long)(agree + tied), (long long)batch);
    CHECK(agree + tied >= batch * 99 / 100);
    CHECK(agree >= batch * 97 / 100);
  }
}
