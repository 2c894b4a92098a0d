#include "compiler/lower_report.h"

#include <fmt/format.h>

#include <algorithm>

namespace tpusim::compiler {

namespace {

TensorQuant quant_of(const ITensor& t) { return {t.name, name(t.dtype), t.scale, t.zero_point}; }

std::string detailed_kind(const IOp& op) {
  if (const IPool* p = op.as<IPool>()) return p->mode == PoolMode::Max ? "pool.max" : "pool.avg";
  if (const IEltwise* e = op.as<IEltwise>())
    return e->op == EltOp::Add ? "eltwise.add" : e->op == EltOp::Mul ? "eltwise.mul" : "eltwise.max";
  return kind_name(op);
}

nlohmann::json quant_json(const TensorQuant& q) {
  return {{"name", q.name}, {"dtype", q.dtype}, {"scale", q.scale}, {"zero_point", q.zero_point}};
}

}  // namespace

std::vector<LayerReport> lowering_report(const IntGraph& g) {
  std::vector<LayerReport> r;
  for (const IOp& op : g.ops) {
    LayerReport l;
    l.op = op.name;
    l.kind = detailed_kind(op);
    l.sources = op.sources;
    for (const std::string& i : op.inputs) l.inputs.push_back(quant_of(g.tensor(i)));
    l.output = quant_of(g.tensor(op.output));
    if (const IConv* c = op.as<IConv>()) {
      l.weight_bits = bits(c->w_dtype);
      l.bias_saturated = c->bias_saturated;
    } else if (const IMatmul* m = op.as<IMatmul>()) {
      l.weight_bits = bits(m->w_dtype);
      l.bias_saturated = m->bias_saturated;
    } else if (const IEltwise* e = op.as<IEltwise>()) {
      l.rescale = {e->a_rescale, e->b_rescale};
    }
    l.multipliers = static_cast<int64_t>(op.rq.mult.size());
    if (!op.rq.mult.empty()) {
      l.m0_min = l.m0_max = op.rq.mult[0].m0;
      l.shift_min = l.shift_max = op.rq.mult[0].shift;
    }
    for (const Multiplier& m : op.rq.mult) {
      l.m0_min = std::min(l.m0_min, m.m0);
      l.m0_max = std::max(l.m0_max, m.m0);
      l.shift_min = std::min(l.shift_min, m.shift);
      l.shift_max = std::max(l.shift_max, m.shift);
      l.max_rel_error = std::max(l.max_rel_error, m.rel_error);
    }
    for (const Multiplier& m : l.rescale) l.max_rel_error = std::max(l.max_rel_error, m.rel_error);
    l.clamp_lo = op.rq.clamp_lo;
    l.clamp_hi = op.rq.clamp_hi;
    // Copies or a table: the range of the output type.
    if (op.as<IConcat>() || op.as<IGather>() || op.as<IRearrange>() || op.as<ILut>()) {
      l.clamp_lo = static_cast<int32_t>(traits(g.tensor(op.output).dtype).qmin);
      l.clamp_hi = static_cast<int32_t>(traits(g.tensor(op.output).dtype).qmax);
    }
    r.push_back(std::move(l));
  }
  return r;
}

nlohmann::json report_json(const IntGraph& g, const std::vector<LayerReport>& layers) {
  nlohmann::json arr = nlohmann::json::array();
  for (const LayerReport& l : layers) {
    nlohmann::json ins = nlohmann::json::array(), rescale = nlohmann::json::array();
    for (const TensorQuant& q : l.inputs) ins.push_back(quant_json(q));
    for (const Multiplier& m : l.rescale)
      rescale.push_back({{"m0", m.m0}, {"shift", m.shift}, {"scale", m.scale}, {"rel_error", m.rel_error}});
    arr.push_back({{"op", l.op},
                   {"kind", l.kind},
                   {"sources", l.sources},
                   {"inputs", ins},
                   {"output", quant_json(l.output)},
                   {"weight_bits", l.weight_bits},
                   {"multipliers", l.multipliers},
                   {"m0", {l.m0_min, l.m0_max}},
                   {"shift", {l.shift_min, l.shift_max}},
                   {"rescale", rescale},
                   {"max_rel_error", l.max_rel_error},
                   {"clamp", {l.clamp_lo, l.clamp_hi}},
                   {"bias_saturated", l.bias_saturated}});
  }
  return {{"source", g.source}, {"layers", arr}};
}

std::string format_report(const std::vector<LayerReport>& layers) {
  std::string s = fmt::format("{:<20} {:<12} {:<6} {:>12} {:>5} {:>3} {:>23} {:>7} {:>9} {:>10}\n", "op",
                              "kind", "out", "scale", "zp", "wb", "M0 min..max", "shift", "max err", "clamp");
  for (const LayerReport& l : layers) {
    const std::string m0 = l.multipliers ? fmt::format("{}..{}", l.m0_min, l.m0_max) : "-";
    const std::string sh = l.multipliers ? fmt::format("{}..{}", l.shift_min, l.shift_max) : "-";
    s += fmt::format("{:<20} {:<12} {:<6} {:>12.6g} {:>5} {:>3} {:>23} {:>7} {:>9.2e} {:>10}\n", l.op, l.kind,
                     l.output.dtype, l.output.scale, l.output.zero_point,
                     l.weight_bits ? std::to_string(l.weight_bits) : "-", m0, sh, l.max_rel_error,
                     fmt::format("{}..{}", l.clamp_lo, l.clamp_hi));
  }
  return s;
}

}  // namespace tpusim::compiler
