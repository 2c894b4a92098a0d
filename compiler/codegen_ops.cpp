// Back end code generation per IR op: window ops (conv2d, pool, eltwise, requant, lut), matmul,
// concat (gather: codegen_gather.cpp).
#include <fmt/format.h>

#include "base/error.h"
#include "compiler/codegen.h"

namespace tpusim::compiler::be {

ConstBytes const_bytes(const WindowShape& s, const Arch& a) {
  ConstBytes c;
  if (s.weights) c.w = local_bytes(a, s.w_dt, 1, s.oc, 1, s.icpg * s.kh * s.kw);
  if (s.bias) c.b = local_bytes(a, DType::Int32, 1, s.oc, 1, 1);
  if (s.rq_table) c.rq = local_bytes(a, DType::Int32, 1, s.oc, 1, 2);
  if (s.lut_entries) c.lut = local_bytes(a, s.out_dt, 1, 1, 1, s.lut_entries);
  return c;
}

ConstBytes const_bytes(const MatmulShape& s, const Arch& a) {
  ConstBytes c;
  c.w = local_bytes(a, s.w_dt, 1, s.n, 1, s.k);
  if (s.bias) c.b = local_bytes(a, DType::Int32, 1, s.n, 1, 1);
  if (s.rq_table) c.rq = local_bytes(a, DType::Int32, 1, s.n, 1, 2);
  return c;
}

WindowShape window_shape(const IntGraph& g, const IOp& op) {
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  // Elementwise ops read tiles of the output's shape (a broadcast eltwise input is replicated).
  const bool elementwise = !op.as<IConv>() && !op.as<IPool>();
  Dims in = dims4(elementwise ? y.shape : x.shape), out = dims4(y.shape);
  // A transformer's [batch, tokens, features] elementwise op (residual add, GELU) is laid out as
  // the matmuls and layernorms around it lay their tensors, [rows, features, 1, 1] with the
  // features across the lanes, so the resident schedule can hand it their LMEM buffers and back.
  // Not when an input is broadcast (the GDMA replicates along h and w) or the requant is per
  // channel (its table follows axis 1).
  bool same_shapes = true;
  for (const std::string& i : op.inputs) same_shapes = same_shapes && g.tensor(i).shape == y.shape;
  if (elementwise && y.shape.size() == 3 && same_shapes && !op.rq.per_channel() &&
      y.shape[0] * y.shape[1] <= kMaxDim)
    in = out = {y.shape[0] * y.shape[1], y.shape[2], 1, 1};
  WindowShape s;
  s.n = in.n, s.ic = in.c, s.ih = in.h, s.iw = in.w, s.oc = out.c, s.oh = out.h, s.ow = out.w;
  s.in_dt = x.dtype, s.out_dt = y.dtype;
  s.rq_table = op.rq.per_channel();
  auto window = [&](const int64_t* k, const int64_t* st, const int64_t* dil, const int64_t* pads) {
    s.kh = k[0], s.kw = k[1], s.sh = st[0], s.sw = st[1];
    if (dil) s.dh = dil[0], s.dw = dil[1];
    s.pad_t = pads[0], s.pad_l = pads[1], s.pad_b = pads[2], s.pad_r = pads[3];
  };
  if (const IConv* c = op.as<IConv>()) {
    window(c->kernel, c->stride, c->dilation, c->pads);
    s.grouped = c->groups > 1;
    s.ocpg = s.grouped ? s.oc / c->groups : 1;
    s.icpg = s.ic / c->groups;
    s.weights = true, s.w_dt = c->w_dtype, s.bias = !c->bias.empty();
  } else if (const IPool* p = op.as<IPool>()) {
    window(p->kernel, p->stride, nullptr, p->pads);
  } else if (op.as<IEltwise>()) {
    s.n_inputs = 2;
    s.in_dt2 = g.tensor(op.inputs[1]).dtype;
    for (int i = 0; i < 2; ++i) s.broadcast[i] = g.tensor(op.inputs[static_cast<size_t>(i)]).shape != y.shape;
    if (s.broadcast[0] && s.broadcast[1])
      throw Error(fmt::format("{}: eltwise with both inputs broadcast is not supported", op.name));
  } else if (const ILut* l = op.as<ILut>()) {
    s.lut_entries = static_cast<int64_t>(l->table.size());
  }
  return s;
}

TileCode window_code(const IntGraph& g, const IOp& op, const WindowShape& s, const WindowTile& t,
                     const Bufs& b, const DdrMap& ddr, const OpConsts& c, const Arch& a) {
  const ITensor& y = g.tensor(op.output);
  const Dims in_full{s.n, s.ic, s.ih, s.iw}, out_full{s.n, s.oc, s.oh, s.ow};
  const int64_t K = s.icpg * s.kh * s.kw;
  TileCode tc;
  tc.consts_lo = b.consts_lo, tc.consts_hi = b.consts_hi;
  const Dims in_d{t.nt, t.ict, t.hi - t.lo, s.iw}, out_d{t.nt, t.oct, t.rows, s.ow};
  const int64_t in_elem = ((t.n0 * s.ic + t.i0) * s.ih + t.lo) * s.iw;
  for (int i = 0; i < s.n_inputs; ++i) {
    if (!b.load_in[i]) continue;
    const uint64_t from = ddr.of(g, op.inputs[static_cast<size_t>(i)]);
    const DType dt = i ? s.in_dt2 : s.in_dt;
    tc.loads.push_back(s.broadcast[i] ? dma_load_broadcast(a, dt, in_d, from, t.n0, t.i0, s.ic, b.in[i])
                                      : dma_load(a, dt, in_d, from, in_elem, in_full, b.in[i]));
  }
  if (s.lut_entries && b.load_lut)
    tc.const_loads.push_back(
        dma_load_table(s.out_dt, s.lut_entries, std::min<int64_t>(s.oc, a.lanes), c.table, b.lut));
  if (s.weights && b.load_consts)
    tc.const_loads.push_back(dma_load(a, s.w_dt, {1, t.oct, 1, K}, c.weight, t.o0 * K, {1, s.oc, 1, K}, b.w));
  if (s.bias && b.load_consts)
    tc.const_loads.push_back(dma_load(a, DType::Int32, {1, t.oct, 1, 1}, c.bias, t.o0, {1, s.oc, 1, 1}, b.b));
  if (s.rq_table && b.load_consts)
    tc.const_loads.push_back(
        dma_load(a, DType::Int32, {1, t.oct, 1, 2}, c.rq, t.o0 * 2, {1, s.oc, 1, 2}, b.rq));
  const auto src = static_cast<int64_t>(b.in[0]), dst = static_cast<int64_t>(b.out);
  if (const IConv* cv = op.as<IConv>()) {
    ops::Conv2d x;
    x.dst = dst, x.src = src, x.weight = static_cast<int64_t>(b.w);
    x.bias = s.bias ? static_cast<int64_t>(b.b) : 0;
    x.n = t.nt, x.ic = t.ict, x.ih = t.hi - t.lo, x.iw = s.iw, x.oc = t.oct, x.kh = s.kh, x.kw = s.kw;
    x.stride_h = s.sh, x.stride_w = s.sw, x.pad_t = t.pad_t, x.pad_b = t.pad_b, x.pad_l = s.pad_l;
    x.pad_r = s.pad_r, x.dil_h = s.dh, x.dil_w = s.dw, x.groups = s.grouped ? t.oct / s.ocpg : 1;
    x.in_dtype = static_cast<int64_t>(s.in_dt), x.w_dtype = static_cast<int64_t>(s.w_dt);
    x.in_zp = cv->in_zp, x.has_bias = s.bias ? 1 : 0;
    set_requant(x, op, y, b.rq);
    tc.compute = {x.instr()};
  } else if (const IPool* p = op.as<IPool>()) {
    ops::Pool x;
    x.dst = dst, x.src = src, x.mode = static_cast<int64_t>(p->mode), x.n = t.nt, x.c = t.oct;
    x.ih = t.hi - t.lo, x.iw = s.iw, x.kh = s.kh, x.kw = s.kw, x.stride_h = s.sh, x.stride_w = s.sw;
    x.pad_t = t.pad_t, x.pad_b = t.pad_b, x.pad_l = s.pad_l, x.pad_r = s.pad_r;
    x.count_pad = p->count_pad ? 1 : 0, x.in_dtype = static_cast<int64_t>(s.in_dt), x.in_zp = p->in_zp;
    set_requant(x, op, y, b.rq);
    tc.compute = {x.instr()};
  } else if (const IEltwise* el = op.as<IEltwise>()) {
    ops::Eltwise x;
    x.dst = dst, x.a = src, x.b = static_cast<int64_t>(b.in[1]), x.op = static_cast<int64_t>(el->op);
    x.n = t.nt, x.c = t.oct, x.h = t.rows, x.w = s.ow;
    x.a_dtype = static_cast<int64_t>(s.in_dt), x.a_zp = el->a_zp, x.a_m0 = el->a_rescale.m0;
    x.a_shift = el->a_rescale.shift, x.b_dtype = static_cast<int64_t>(s.in_dt2), x.b_zp = el->b_zp;
    x.b_m0 = el->b_rescale.m0, x.b_shift = el->b_rescale.shift;
    set_requant(x, op, y, b.rq);
    tc.compute = {x.instr()};
  } else if (op.as<ILut>()) {
    ops::Lut x;
    x.dst = dst, x.src = src, x.table = static_cast<int64_t>(b.lut);
    x.n = t.nt, x.c = t.oct, x.h = t.rows, x.w = s.ow;
    x.in_dtype = static_cast<int64_t>(s.in_dt), x.out_dtype = static_cast<int64_t>(s.out_dt);
    tc.compute = {x.instr()};
  } else {
    ops::Requant x;
    x.dst = dst, x.src = src, x.n = t.nt, x.c = t.oct, x.h = t.rows, x.w = s.ow;
    x.in_dtype = static_cast<int64_t>(s.in_dt), x.in_zp = op.as<IRequant>()->in_zp;
    set_requant(x, op, y, b.rq);
    tc.compute = {x.instr()};
  }
  if (b.store)
    tc.stores.push_back(dma_store(a, s.out_dt, out_d, b.out, ddr.of(g, op.output),
                                  ((t.n0 * s.oc + t.o0) * s.oh + t.r0) * s.ow, out_full));
  return tc;
}

namespace {

OpPlanInfo emit_window(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                       const Arch& a) {
  const WindowShape s = window_shape(g, op);
  const std::optional<WindowPlan> fit = try_plan_window(s, a);
  if (!fit && op.as<IConv>() && !s.grouped) return emit_conv_ksplit(e, g, op, s, ddr, c, a);
  if (!fit) throw Error(fmt::format("{}: no tiling fits LMEM ({} bytes per lane)", op.name, a.lane_bytes));
  const WindowPlan& plan = *fit;
  const int sets = plan.double_buffer ? 2 : 1;
  auto make = [&](int64_t k, uint64_t base) {
    const WindowTile& t = plan.tiles[static_cast<size_t>(k)];
    Bufs b;
    b.in[0] = base + plan.in_off[0], b.in[1] = base + plan.in_off[1], b.w = base + plan.w_off;
    b.b = base + plan.b_off, b.rq = base + plan.rq_off, b.out = base + plan.out_off;
    b.consts_lo = base + plan.consts_lo, b.consts_hi = base + plan.consts_hi;
    // The lut table: loaded once per op, into set 0 (whose offset every tile reads; the same
    // offset in set 1 stays unused). Later tiles' loads come after it in the GDMA stream.
    b.lut = plan.lut_off, b.load_lut = k == 0;
    // The buffer set of tile k - sets already holds this channel group's tables: keep them.
    b.load_consts = !(k >= sets && plan.tiles[static_cast<size_t>(k - sets)].o0 == t.o0);
    return window_code(g, op, s, t, b, ddr, c, a);
  };
  schedule(e, static_cast<int64_t>(plan.tiles.size()), sets, plan.set_bytes, make);
  return {static_cast<int64_t>(plan.tiles.size()), plan.double_buffer, plan.set_bytes * sets};
}

}  // namespace

MatmulShape matmul_shape(const IntGraph& g, const IOp& op) {
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  MatmulShape s;
  s.k = x.shape.back(), s.n = y.shape.back(), s.m = num_elements(x.shape) / s.k;
  s.in_dt = x.dtype, s.out_dt = y.dtype, s.w_dt = op.as<IMatmul>()->w_dtype;
  s.bias = !op.as<IMatmul>()->bias.empty();
  s.rq_table = op.rq.per_channel();
  return s;
}

TileCode matmul_code(const IntGraph& g, const IOp& op, const MatmulShape& s, const MatmulTile& t,
                     const Bufs& b, const DdrMap& ddr, const OpConsts& c, const Arch& a) {
  TileCode tc;
  tc.consts_lo = b.consts_lo, tc.consts_hi = b.consts_hi;
  if (b.load_in[0])
    tc.loads.push_back(dma_load(a, s.in_dt, {t.mt, s.k, 1, 1}, ddr.of(g, op.inputs[0]), t.m0 * s.k,
                                {s.m, s.k, 1, 1}, b.in[0]));
  if (b.load_consts) {
    tc.const_loads.push_back(
        dma_load(a, s.w_dt, {1, t.jt, 1, s.k}, c.weight, t.j0 * s.k, {1, s.n, 1, s.k}, b.w));
    if (s.bias)
      tc.const_loads.push_back(dma_load(a, DType::Int32, {1, t.jt, 1, 1}, c.bias, t.j0, {1, s.n, 1, 1}, b.b));
    if (s.rq_table)
      tc.const_loads.push_back(
          dma_load(a, DType::Int32, {1, t.jt, 1, 2}, c.rq, t.j0 * 2, {1, s.n, 1, 2}, b.rq));
  }
  ops::Matmul m;
  m.dst = static_cast<int64_t>(b.out), m.src = static_cast<int64_t>(b.in[0]);
  m.weight = static_cast<int64_t>(b.w), m.bias = s.bias ? static_cast<int64_t>(b.b) : 0;
  m.m = t.mt, m.k = s.k, m.n = t.jt, m.in_dtype = static_cast<int64_t>(s.in_dt);
  m.w_dtype = static_cast<int64_t>(s.w_dt), m.in_zp = op.as<IMatmul>()->in_zp, m.has_bias = s.bias ? 1 : 0;
  set_requant(m, op, g.tensor(op.output), b.rq);
  tc.compute = {m.instr()};
  if (b.store)
    tc.stores.push_back(dma_store(a, s.out_dt, {t.mt, t.jt, 1, 1}, b.out, ddr.of(g, op.output),
                                  t.m0 * s.n + t.j0, {s.m, s.n, 1, 1}));
  return tc;
}

namespace {

OpPlanInfo emit_matmul(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                       const Arch& a) {
  const MatmulShape s = matmul_shape(g, op);
  const std::optional<MatmulPlan> fit = try_plan_matmul(s, a);
  if (!fit) return emit_matmul_ksplit(e, g, op, s, ddr, c, a);
  const MatmulPlan& plan = *fit;
  const int sets = plan.double_buffer ? 2 : 1;
  auto make = [&](int64_t k, uint64_t base) {
    Bufs b;
    b.in[0] = base + plan.in_off, b.w = base + plan.w_off, b.b = base + plan.b_off;
    b.rq = base + plan.rq_off, b.out = base + plan.out_off;
    b.consts_lo = base + plan.consts_lo, b.consts_hi = base + plan.consts_hi;
    // The buffer set of tile k - sets already holds this column block's weights: keep them.
    const MatmulTile& t = plan.tiles[static_cast<size_t>(k)];
    b.load_consts = !(k >= sets && plan.tiles[static_cast<size_t>(k - sets)].j0 == t.j0 &&
                      plan.tiles[static_cast<size_t>(k - sets)].jt == t.jt);
    return matmul_code(g, op, s, t, b, ddr, c, a);
  };
  schedule(e, static_cast<int64_t>(plan.tiles.size()), sets, plan.set_bytes, make);
  return {static_cast<int64_t>(plan.tiles.size()), plan.double_buffer, plan.set_bytes * sets};
}

// Concat: per input [outer, ai, inner], GDMA loads of [ot, ct, 1, it] blocks into LMEM and stores
// into the output's slice [outer, total, inner] at channel offset `at`.
OpPlanInfo emit_concat(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a) {
  const IConcat& cc = *op.as<IConcat>();
  const ITensor& y = g.tensor(op.output);
  const auto ax = static_cast<size_t>(cc.axis);
  const int64_t outer = num_elements(Shape(y.shape.begin(), y.shape.begin() + cc.axis));
  const int64_t inner = num_elements(Shape(y.shape.begin() + cc.axis + 1, y.shape.end()));
  const int64_t total = y.shape[ax];
  OpPlanInfo info;
  int64_t at = 0;
  const auto placed = ddr.concat_in_place.find(op.output);
  const std::vector<bool>* in_place = placed == ddr.concat_in_place.end() ? nullptr : &placed->second;
  for (size_t k = 0; k < op.inputs.size(); ++k) {
    const std::string& in = op.inputs[k];
    const int64_t ai = g.tensor(in).shape[ax];
    if (in_place && (*in_place)[k]) {  // its producer stored it inside the output already
      at += ai;
      continue;
    }
    int64_t ct = ai, ot = outer, it = inner;
    while (local_bytes(a, y.dtype, ot, ct, 1, it) > a.lane_bytes) {
      if (ct > 1)
        ct = ct > a.lanes ? ct - a.lanes : ct - 1;
      else if (ot > 1)
        ot = ceil_div(ot, 2);
      else if (it > 1)
        it = ceil_div(it, 2);
      else
        throw Error(fmt::format("{}: concat input '{}' does not fit LMEM", op.name, in));
    }
    if (is_4bit(y.dtype) && it % 2) ++it;
    for (int64_t o0 = 0; o0 < outer; o0 += ot)
      for (int64_t c0 = 0; c0 < ai; c0 += ct)
        for (int64_t i0 = 0; i0 < inner; i0 += it) {
          const Dims d{std::min(ot, outer - o0), std::min(ct, ai - c0), 1, std::min(it, inner - i0)};
          const int64_t src = (o0 * ai + c0) * inner + i0, dst = (o0 * total + at + c0) * inner + i0;
          if (is_4bit(y.dtype) && (src % 2 || dst % 2))
            throw Error(fmt::format("{}: 4-bit concat at an odd element offset is not supported", op.name));
          e.gdma(dma_load(a, y.dtype, d, ddr.of(g, in), src, {outer, ai, 1, inner}, 0));
          e.gdma(dma_store(a, y.dtype, d, 0, ddr.of(g, op.output), dst, {outer, total, 1, inner}));
          ++info.tiles;
          info.lmem_bytes = std::max(info.lmem_bytes, local_bytes(a, y.dtype, d.n, d.c, 1, d.w));
        }
    at += ai;
  }
  return info;
}

}  // namespace

OpPlanInfo emit_op(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                   const Arch& a) {
  if (op.as<IMatmul>()) return emit_matmul(e, g, op, ddr, c, a);
  if (op.as<IConcat>()) return emit_concat(e, g, op, ddr, a);
  if (op.as<IGather>()) return emit_gather(e, g, op, ddr, a);
  if (op.as<IRearrange>()) return emit_rearrange(e, g, op, ddr, a);
  if (op.as<ILayerNorm>() || op.as<ISoftmax>()) return emit_norm(e, g, op, ddr, c, a);
  if (op.as<IActMatmul>()) return emit_act_matmul(e, g, op, ddr, a);
  return emit_window(e, g, op, ddr, c, a);
}

}  // namespace tpusim::compiler::be
