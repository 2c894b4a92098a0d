// Quantized lowering of the pointwise functions (pointwise.h) as a look-up table (ILut, the lut
// instruction). The table is built when the QuantizeLinear after the function gives the output
// grid: entry i = Q_out(clamp(f(DQ_in(qmin + i)), lo, hi)), with lo/hi any Relu/Clip folded after
// it. Every quantization of f is exactly this table, so the integer reference and the simulator
// agree with a fake-quant of the same function by construction.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "compiler/lower_internal.h"
#include "compiler/pointwise.h"
#include "quant/quantize.h"

namespace tpusim::compiler::lowering {

void Lowerer::lut(const Node& n) {
  const ITensor& x = deq_input(n, 0);
  values[n.outputs[0]] = start(n, ILut{}, {x.name}, {x.scale}, 1);
}

void Lowerer::finalise_lut(Pending p, const std::string& name, const QParams& q,
                           const std::string& float_name) {
  const ITensor& x = out.tensor(p.op.inputs[0]);
  const DTypeTraits& in = traits(x.dtype);
  const Node& f = *p.anchor;
  ILut& l = std::get<ILut>(p.op.kind);
  for (int64_t code = in.qmin; code <= in.qmax; ++code) {
    const float real = dequantize_linear(static_cast<int32_t>(code), x.scale, x.zero_point);
    float y = static_cast<float>(pointwise(f.op, f.attr<PointwiseAttrs>(), real));
    y = std::clamp(y, p.lo, p.hi);
    if (std::isnan(y)) g.fail(f, fmt::format("is not a number at input {}", real));
    l.table.push_back(quantize_linear(y, q.scale, q.zero_point, q.dtype));
  }
  p.op.output = name;
  add_tensor(name, g.tensor(float_name).shape, q, float_name);
  add_op(std::move(p.op));
}

}  // namespace tpusim::compiler::lowering
