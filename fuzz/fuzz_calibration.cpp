// Calibration on adversarial floats (NaN, infinities, denormals, huge and tiny values): the raw
// calibrators of quant/calibration.h on the input's floats, then the compiler's path (`tpusim
// compile --calib`): an FP32 model of the test zoo calibrated on the floats as data and lowered.
// Non-finite data must be refused with an Error; accepted data must give finite, positive scales.
#include <cmath>
#include <cstring>

#include "compiler/calibrate.h"
#include "compiler/lower.h"
#include "fuzz/fuzz_common.h"
#include "tests/support/onnx_zoo.h"

using namespace tpusim;
using namespace tpusim::compiler;

namespace {

std::vector<float> floats(std::span<const uint8_t> b) {
  std::vector<float> v(b.size() / 4);
  if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

void check_params(const QuantParams& p) {
  fuzz::fuzz_check(std::isfinite(p.scale) && p.scale >= kMinScale, "scale not finite or below kMinScale");
  fuzz::fuzz_check(p.zero_point >= p.spec.qmin() && p.zero_point <= p.spec.qmax(), "zero point off the grid");
}

void raw_calibrators(fuzz::Reader& r, const std::vector<float>& x) {
  QuantSpec spec;
  spec.bits = r.pick(2, 8), spec.is_signed = r.byte() & 1;
  CalibOptions opt;
  opt.method = static_cast<CalibMethod>(r.pick(0, 4));
  opt.symmetric = r.byte() & 1;
  opt.percentile = 90.0 + r.byte() / 25.5;
  RangeObserver obs("x", ObserverOptions{16 << r.pick(0, 8), 0.99});
  const size_t half = x.size() / 2;
  try {
    obs.observe(std::span(x).first(half));
    obs.observe(std::span(x).subspan(half));
    const QuantParams p = calibrate(obs, spec, opt);
    check_params(p);
    const QuantErrorReport e = quantization_error(x, p, "x");
    fuzz::fuzz_check(std::isfinite(e.total_mse()), "non-finite error report");
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
}

void compiler_calibration(fuzz::Reader& r, const std::vector<float>& x) {
  static const std::vector<Graph> models = [] {
    std::vector<Graph> m;
    for (const char* name : {"mlp", "conv_bn_relu_pool"})
      m.push_back(testing::import_model(testing::test_model(name, 1).bytes));
    return m;
  }();
  const Graph& g = models[r.byte() % models.size()];
  NpyArray calib;
  calib.type = NpyType::F32;
  calib.shape = g.tensors.at(g.inputs.at(0)).shape;
  uint64_t n = 1;
  for (int64_t d : calib.shape) n *= static_cast<uint64_t>(d);
  calib.shape[0] = r.pick(1, 2);
  n *= static_cast<uint64_t>(calib.shape[0]);
  std::vector<float> data(n, 0.0f);
  for (size_t i = 0; i < n && !x.empty(); ++i) data[i] = x[i % x.size()];
  calib.data.resize(n * 4);
  std::memcpy(calib.data.data(), data.data(), n * 4);
  CalibConfig c;
  c.method = static_cast<CalibMethod>(r.pick(0, 4));
  c.weight_bits = r.byte() & 1 ? 4 : 8, c.act_bits = r.byte() & 1 ? 4 : 8;
  try {
    const CalibResult res = quantize_fp32(g, calib, c);
    for (const auto& [name, p] : res.params) check_params(p);
    lower_qdq(res.graph);
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader r(data, size);
  const uint8_t mode = r.byte();
  const std::vector<float> x = floats(r.chunk(1 << 14));
  raw_calibrators(r, x);
  if (mode & 1) compiler_calibration(r, x);
  return 0;
}
