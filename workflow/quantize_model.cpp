#include "workflow/quantize_model.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/error.h"
#include "base/npy.h"
#include "compiler/calibrate.h"

namespace tpusim::workflow {

bool is_qdq(const compiler::Graph& g) {
  for (const compiler::Node& n : g.nodes)
    if (n.op == compiler::Op::QuantizeLinear || n.op == compiler::Op::DequantizeLinear) return true;
  return false;
}

compiler::CalibConfig calib_config(const CalibOptions& o) {
  compiler::CalibConfig c;
  compiler::parse_bits(o.bits, c);
  const auto m = calib_method_from_name(o.method);
  if (!m)
    throw Error(fmt::format("--calib-method '{}': expected minmax, ema, percentile, mse or kl", o.method));
  c.method = *m;
  c.limit = o.limit;
  c.calib_source = o.calib;
  return c;
}

compiler::Graph quantized_graph(compiler::Graph g, const std::string& model, const CalibOptions& o) {
  if (is_qdq(g)) {
    if (!o.calib.empty())
      throw Error(fmt::format("{}: --calib given, but the model is already quantized (QDQ)", model));
    return g;
  }
  if (o.calib.empty())
    throw Error(
        fmt::format("{}: an FP32 model (no QuantizeLinear/DequantizeLinear) needs calibration data: "
                    "give --calib data.npy (or a QDQ model)",
                    model));
  compiler::CalibResult r = compiler::quantize_fp32(std::move(g), load_npy(o.calib), calib_config(o));
  spdlog::info("{}: calibrated on {} samples ({}, {}), {} activation tensors", model, r.samples, o.method,
               o.bits, r.params.size());
  return std::move(r.graph);
}

}  // namespace tpusim::workflow
