// Back end code generation per IR op: window ops (conv2d, pool, eltwise, requant, lut), matmul,
// concat, gather.
#include <fmt/format.h>

#include "base/error.h"
#include "compiler/codegen.h"

namespace tpusim::compiler::be {

namespace {

template <class T>
void set_requant(T& t, const IOp& op, const ITensor& out, uint64_t rq_lmem) {
  t.out_dtype = static_cast<int64_t>(out.dtype);
  t.out_zp = op.rq.out_zp;
  t.rq_per_channel = op.rq.per_channel() ? 1 : 0;
  t.rq = op.rq.per_channel() ? static_cast<int64_t>(rq_lmem) : 0;
  t.m0 = op.rq.per_channel() ? 0 : op.rq.at(0).m0;
  t.shift = op.rq.per_channel() ? 0 : op.rq.at(0).shift;
  t.clamp_lo = op.rq.clamp_lo;
  t.clamp_hi = op.rq.clamp_hi;
}

WindowShape window_shape(const IntGraph& g, const IOp& op) {
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  // Elementwise ops read tiles of the output's shape (a broadcast eltwise input is replicated).
  const bool elementwise = !op.as<IConv>() && !op.as<IPool>();
  const Dims in = dims4(elementwise ? y.shape : x.shape), out = dims4(y.shape);
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

OpPlanInfo emit_window(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                       const Arch& a) {
  const WindowShape s = window_shape(g, op);
  const WindowPlan plan = plan_window(s, a, op.name.c_str());
  const ITensor& y = g.tensor(op.output);
  const Dims in_full{s.n, s.ic, s.ih, s.iw}, out_full{s.n, s.oc, s.oh, s.ow};
  const int64_t K = s.icpg * s.kh * s.kw;
  const int sets = plan.double_buffer ? 2 : 1;
  auto make = [&](int64_t k, uint64_t base) {
    const WindowTile& t = plan.tiles[static_cast<size_t>(k)];
    TileCode tc;
    const Dims in_d{t.nt, t.ict, t.hi - t.lo, s.iw}, out_d{t.nt, t.oct, t.rows, s.ow};
    const int64_t in_elem = ((t.n0 * s.ic + t.i0) * s.ih + t.lo) * s.iw;
    for (int i = 0; i < s.n_inputs; ++i) {
      const uint64_t from = ddr.of(g, op.inputs[static_cast<size_t>(i)]);
      const DType dt = i ? s.in_dt2 : s.in_dt;
      tc.loads.push_back(s.broadcast[i]
                             ? dma_load_broadcast(a, dt, in_d, from, t.n0, t.i0, s.ic, base + plan.in_off[i])
                             : dma_load(a, dt, in_d, from, in_elem, in_full, base + plan.in_off[i]));
    }
    // The lut table: loaded once per op, into set 0 (whose offset every tile reads; the same
    // offset in set 1 stays unused). Later tiles' loads come after it in the GDMA stream.
    if (s.lut_entries && k == 0)
      tc.loads.push_back(
          dma_load_table(s.out_dt, s.lut_entries, std::min<int64_t>(s.oc, a.lanes), c.table, plan.lut_off));
    // The buffer set of tile k - sets already holds this channel group's tables: keep them.
    const bool reuse = k >= sets && plan.tiles[static_cast<size_t>(k - sets)].o0 == t.o0;
    if (s.weights && !reuse)
      tc.loads.push_back(
          dma_load(a, s.w_dt, {1, t.oct, 1, K}, c.weight, t.o0 * K, {1, s.oc, 1, K}, base + plan.w_off));
    if (s.bias && !reuse)
      tc.loads.push_back(
          dma_load(a, DType::Int32, {1, t.oct, 1, 1}, c.bias, t.o0, {1, s.oc, 1, 1}, base + plan.b_off));
    if (s.rq_table && !reuse)
      tc.loads.push_back(
          dma_load(a, DType::Int32, {1, t.oct, 1, 2}, c.rq, t.o0 * 2, {1, s.oc, 1, 2}, base + plan.rq_off));
    const auto src = static_cast<int64_t>(base + plan.in_off[0]),
               dst = static_cast<int64_t>(base + plan.out_off);
    const auto rq = base + plan.rq_off;
    if (const IConv* cv = op.as<IConv>()) {
      ops::Conv2d x;
      x.dst = dst, x.src = src, x.weight = static_cast<int64_t>(base + plan.w_off);
      x.bias = s.bias ? static_cast<int64_t>(base + plan.b_off) : 0;
      x.n = t.nt, x.ic = t.ict, x.ih = t.hi - t.lo, x.iw = s.iw, x.oc = t.oct, x.kh = s.kh, x.kw = s.kw;
      x.stride_h = s.sh, x.stride_w = s.sw, x.pad_t = t.pad_t, x.pad_b = t.pad_b, x.pad_l = s.pad_l;
      x.pad_r = s.pad_r, x.dil_h = s.dh, x.dil_w = s.dw, x.groups = s.grouped ? t.oct / s.ocpg : 1;
      x.in_dtype = static_cast<int64_t>(s.in_dt), x.w_dtype = static_cast<int64_t>(s.w_dt);
      x.in_zp = cv->in_zp, x.has_bias = s.bias ? 1 : 0;
      set_requant(x, op, y, rq);
      tc.compute = x.instr();
    } else if (const IPool* p = op.as<IPool>()) {
      ops::Pool x;
      x.dst = dst, x.src = src, x.mode = static_cast<int64_t>(p->mode), x.n = t.nt, x.c = t.oct;
      x.ih = t.hi - t.lo, x.iw = s.iw, x.kh = s.kh, x.kw = s.kw, x.stride_h = s.sh, x.stride_w = s.sw;
      x.pad_t = t.pad_t, x.pad_b = t.pad_b, x.pad_l = s.pad_l, x.pad_r = s.pad_r;
      x.count_pad = p->count_pad ? 1 : 0, x.in_dtype = static_cast<int64_t>(s.in_dt), x.in_zp = p->in_zp;
      set_requant(x, op, y, rq);
      tc.compute = x.instr();
    } else if (const IEltwise* el = op.as<IEltwise>()) {
      ops::Eltwise x;
      x.dst = dst, x.a = src, x.b = static_cast<int64_t>(base + plan.in_off[1]),
      x.op = static_cast<int64_t>(el->op);
      x.n = t.nt, x.c = t.oct, x.h = t.rows, x.w = s.ow;
      x.a_dtype = static_cast<int64_t>(s.in_dt), x.a_zp = el->a_zp, x.a_m0 = el->a_rescale.m0;
      x.a_shift = el->a_rescale.shift, x.b_dtype = static_cast<int64_t>(s.in_dt2), x.b_zp = el->b_zp;
      x.b_m0 = el->b_rescale.m0, x.b_shift = el->b_rescale.shift;
      set_requant(x, op, y, rq);
      tc.compute = x.instr();
    } else if (op.as<ILut>()) {
      ops::Lut x;
      x.dst = dst, x.src = src, x.table = static_cast<int64_t>(plan.lut_off);
      x.n = t.nt, x.c = t.oct, x.h = t.rows, x.w = s.ow;
      x.in_dtype = static_cast<int64_t>(s.in_dt), x.out_dtype = static_cast<int64_t>(s.out_dt);
      tc.compute = x.instr();
    } else {
      ops::Requant x;
      x.dst = dst, x.src = src, x.n = t.nt, x.c = t.oct, x.h = t.rows, x.w = s.ow;
      x.in_dtype = static_cast<int64_t>(s.in_dt), x.in_zp = op.as<IRequant>()->in_zp;
      set_requant(x, op, y, rq);
      tc.compute = x.instr();
    }
    tc.stores.push_back(dma_store(a, s.out_dt, out_d, base + plan.out_off, ddr.of(g, op.output),
                                  ((t.n0 * s.oc + t.o0) * s.oh + t.r0) * s.ow, out_full));
    return tc;
  };
  schedule(e, static_cast<int64_t>(plan.tiles.size()), sets, plan.set_bytes, make);
  return {static_cast<int64_t>(plan.tiles.size()), plan.double_buffer, plan.set_bytes * sets};
}

OpPlanInfo emit_matmul(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                       const Arch& a) {
  const IMatmul& mm = *op.as<IMatmul>();
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  MatmulShape s;
  s.k = x.shape.back(), s.n = y.shape.back(), s.m = num_elements(x.shape) / s.k;
  s.in_dt = x.dtype, s.out_dt = y.dtype, s.w_dt = mm.w_dtype, s.bias = !mm.bias.empty();
  s.rq_table = op.rq.per_channel();
  const MatmulPlan plan = plan_matmul(s, a, op.name.c_str());
  auto make = [&](int64_t k, uint64_t base) {
    const MatmulTile& t = plan.tiles[static_cast<size_t>(k)];
    TileCode tc;
    tc.loads.push_back(dma_load(a, s.in_dt, {t.mt, s.k, 1, 1}, ddr.of(g, op.inputs[0]), t.m0 * s.k,
                                {s.m, s.k, 1, 1}, base + plan.in_off));
    tc.loads.push_back(
        dma_load(a, s.w_dt, {1, t.jt, 1, s.k}, c.weight, t.j0 * s.k, {1, s.n, 1, s.k}, base + plan.w_off));
    if (s.bias)
      tc.loads.push_back(
          dma_load(a, DType::Int32, {1, t.jt, 1, 1}, c.bias, t.j0, {1, s.n, 1, 1}, base + plan.b_off));
    if (s.rq_table)
      tc.loads.push_back(
          dma_load(a, DType::Int32, {1, t.jt, 1, 2}, c.rq, t.j0 * 2, {1, s.n, 1, 2}, base + plan.rq_off));
    ops::Matmul m;
    m.dst = static_cast<int64_t>(base + plan.out_off), m.src = static_cast<int64_t>(base + plan.in_off);
    m.weight = static_cast<int64_t>(base + plan.w_off),
    m.bias = s.bias ? static_cast<int64_t>(base + plan.b_off) : 0;
    m.m = t.mt, m.k = s.k, m.n = t.jt, m.in_dtype = static_cast<int64_t>(s.in_dt);
    m.w_dtype = static_cast<int64_t>(s.w_dt), m.in_zp = mm.in_zp, m.has_bias = s.bias ? 1 : 0;
    set_requant(m, op, y, base + plan.rq_off);
    tc.compute = m.instr();
    tc.stores.push_back(dma_store(a, s.out_dt, {t.mt, t.jt, 1, 1}, base + plan.out_off, ddr.of(g, op.output),
                                  t.m0 * s.n + t.j0, {s.m, s.n, 1, 1}));
    return tc;
  };
  const int sets = plan.double_buffer ? 2 : 1;
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
  for (const std::string& in : op.inputs) {
    const int64_t ai = g.tensor(in).shape[ax];
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

// ---- gather -------------------------------------------------------------------------------------
// The tensors are viewed as [N, C, inner] (inner = H*W, 1 for 2-D). The channel list is cut into
// runs, each copied with strided DMAs through LMEM: a dma.load whose source channel stride is
// si*inner (0 for a repeated channel) and a dma.store whose destination channel stride is so*inner.
//
// 4-bit elements: a DMA's addresses are byte addresses, so the first element of every load and
// store must sit at an even element offset in DDR (strides are in elements and may be odd; inside a
// transfer elements move nibble by nibble). With inner even every row starts even and tiles cut
// inner at even offsets. With inner odd (e.g. 7x7, or 2-D tensors) rows start on either nibble, so
// the LMEM tile holds one element per byte (LMEM stride 2) behind a one-byte gap per row:
//  - a load whose first row starts odd starts one element earlier; every row's extra element
//    lands in its gap;
//  - a tile whose first output row starts odd is one row, stored one element earlier together
//    with that element's correct value (the last element of the previous output row, loaded into
//    the gap after the row itself).

// Output channels co0 + k*so are input channels ci0 + k*si, k < len (so >= 1, si >= 0).
struct GatherRun {
  int64_t co0, so, ci0, si, len;
};

// Greedy: the first channel not yet covered starts the longest run over the channels not yet
// covered (the smallest output step on ties).
std::vector<GatherRun> gather_runs(const std::vector<int64_t>& ch) {
  const auto cout = static_cast<int64_t>(ch.size());
  std::vector<bool> done(ch.size(), false);
  auto at = [](int64_t i) { return static_cast<size_t>(i); };
  std::vector<GatherRun> runs;
  for (int64_t c0 = 0; c0 < cout; ++c0) {
    if (done[at(c0)]) continue;
    GatherRun best{c0, 1, ch[at(c0)], 0, 1};
    for (int64_t so = 1; c0 + so * best.len < cout; ++so) {  // else no longer run is possible
      if (done[at(c0 + so)]) continue;
      const int64_t si = ch[at(c0 + so)] - ch[at(c0)];
      if (si < 0) continue;
      int64_t len = 2;
      while (c0 + len * so < cout && !done[at(c0 + len * so)] &&
             ch[at(c0 + len * so)] == ch[at(c0)] + len * si)
        ++len;
      if (len > best.len) best = {c0, so, ch[at(c0)], si, len};
    }
    for (int64_t k = 0; k < best.len; ++k) done[at(c0 + k * best.so)] = true;
    runs.push_back(best);
  }
  return runs;
}

constexpr int64_t kMaxDmaDim = 65535;  // the 16-bit shape fields of the DMA instructions

struct Strides {
  int64_t n, c, h, w;
};

ops::DmaLoad dma_fields(DType dt, Dims d, int64_t src, Strides ss, int64_t dst, Strides ds) {
  ops::DmaLoad m;
  m.dtype = static_cast<int64_t>(dt);
  m.n = d.n, m.c = d.c, m.h = d.h, m.w = d.w;
  m.src = src, m.src_sn = ss.n, m.src_sc = ss.c, m.src_sh = ss.h, m.src_sw = ss.w;
  m.dst = dst, m.dst_sn = ds.n, m.dst_sc = ds.c, m.dst_sh = ds.h, m.dst_sw = ds.w;
  return m;
}

Instr gather_load(DType dt, Dims d, int64_t src, Strides ss, int64_t dst, Strides ds) {
  return dma_fields(dt, d, src, ss, dst, ds).instr();
}

Instr gather_store(DType dt, Dims d, int64_t src, Strides ss, int64_t dst, Strides ds) {
  const ops::DmaLoad m = dma_fields(dt, d, src, ss, dst, ds);
  ops::DmaStore s;
  s.dtype = m.dtype, s.n = m.n, s.c = m.c, s.h = m.h, s.w = m.w;
  s.src = m.src, s.src_sn = m.src_sn, s.src_sc = m.src_sc, s.src_sh = m.src_sh, s.src_sw = m.src_sw;
  s.dst = m.dst, s.dst_sn = m.dst_sn, s.dst_sc = m.dst_sc, s.dst_sh = m.dst_sh, s.dst_sw = m.dst_sw;
  return s.instr();
}

struct GatherGeom {
  DType dt;
  int64_t n, cin, cout, inner;
  uint64_t src, dst;  // DDR addresses of input and output
  // Byte address of element `elem` (even for 4-bit types: checked).
  int64_t addr(uint64_t base, int64_t elem, const char* what) const {
    if (is_4bit(dt) && elem % 2)
      throw Error(fmt::format("gather: internal error, {} at odd 4-bit element offset {}", what, elem));
    return static_cast<int64_t>(base + static_cast<uint64_t>(elem) * bits(dt) / 8);
  }
};

// Compact LMEM tiles [nt, kt, 1, it]; inner is even for 4-bit types, and so is every it.
void gather_run_compact(Emitter& e, const GatherGeom& G, const GatherRun& r, const Arch& a, const IOp& op,
                        OpPlanInfo& info) {
  const int64_t unit = is_4bit(G.dt) ? 2 : 1;
  int64_t nt = G.n, kt = r.len, it = std::min(G.inner, kMaxDmaDim + 1 - unit);
  auto fits = [&] {
    return nt <= kMaxDmaDim && kt <= kMaxDmaDim && local_bytes(a, G.dt, nt, kt, 1, it) <= a.lane_bytes;
  };
  while (!fits()) {
    if (kt > 1)
      kt = kt > a.lanes ? (ceil_div(kt, a.lanes) - 1) * a.lanes : kt - 1;
    else if (nt > 1)
      nt = ceil_div(nt, 2);
    else if (it > unit)
      it = ceil_div(it / unit, 2) * unit;
    else
      throw Error(fmt::format("{}: gather does not fit LMEM", op.name));
  }
  const Strides in_s{G.cin * G.inner, r.si * G.inner, G.inner, 1};
  const Strides out_s{G.cout * G.inner, r.so * G.inner, G.inner, 1};
  for (int64_t n0 = 0; n0 < G.n; n0 += nt)
    for (int64_t k0 = 0; k0 < r.len; k0 += kt)
      for (int64_t i0 = 0; i0 < G.inner; i0 += it) {
        const Dims d{std::min(nt, G.n - n0), std::min(kt, r.len - k0), 1, std::min(it, G.inner - i0)};
        const Strides local{ceil_div(d.c, a.lanes) * d.w, d.w, d.w, 1};
        const int64_t from = (n0 * G.cin + r.ci0 + k0 * r.si) * G.inner + i0;
        const int64_t to = (n0 * G.cout + r.co0 + k0 * r.so) * G.inner + i0;
        e.gdma(gather_load(G.dt, d, G.addr(G.src, from, "load"), in_s, 0, local));
        e.gdma(gather_store(G.dt, d, 0, local, G.addr(G.dst, to, "store"), out_s));
        ++info.tiles;
        info.lmem_bytes = std::max(info.lmem_bytes, local_bytes(a, G.dt, d.n, d.c, 1, d.w));
      }
}

// 4-bit, inner odd: one batch per tile, whole rows, one element per LMEM byte. Lane layout: byte 0
// spare, then per row (in lane k % lanes, slot k / lanes) a gap byte and inner data bytes.
void gather_run_nibbles(Emitter& e, const GatherGeom& G, const GatherRun& r, const std::vector<int64_t>& ch,
                        const Arch& a, const IOp& op, OpPlanInfo& info) {
  const int64_t row_bytes = G.inner + 1;
  const int64_t slots = (static_cast<int64_t>(a.lane_bytes) - 1) / row_bytes;
  if (slots < 1 || G.inner + 1 > kMaxDmaDim)
    throw Error(fmt::format("{}: gather of 4-bit rows of {} elements does not fit LMEM", op.name, G.inner));
  const int64_t kt_max = std::min(slots * a.lanes, kMaxDmaDim);
  const Strides in_s{G.cin * G.inner, r.si * G.inner, G.inner, 1};
  const Strides out_s{G.cout * G.inner, r.so * G.inner, G.inner, 1};
  for (int64_t n = 0; n < G.n; ++n)
    for (int64_t k0 = 0; k0 < r.len;) {
      const int64_t row = n * G.cout + r.co0 + k0 * r.so;  // flat output row
      const bool odd_out = (row * G.inner) % 2 != 0;
      const int64_t kt = odd_out ? 1 : std::min(kt_max, r.len - k0);
      const Strides local{ceil_div(kt, a.lanes) * 2 * row_bytes, 2 * row_bytes, 2 * row_bytes, 2};
      const int64_t from = (n * G.cin + r.ci0 + k0 * r.si) * G.inner;
      if (from % 2 == 0)
        e.gdma(gather_load(G.dt, {1, kt, 1, G.inner}, G.addr(G.src, from, "load"), in_s, 2, local));
      else  // one element early: each row's extra element lands in its gap
        e.gdma(gather_load(G.dt, {1, kt, 1, G.inner + 1}, G.addr(G.src, from - 1, "load"), in_s, 1, local));
      const int64_t to = row * G.inner;
      if (odd_out) {
        // The element before the row: the last one of output row row - 1, into the row's gap.
        const int64_t pn = (row - 1) / G.cout, pc = (row - 1) % G.cout;
        const int64_t prev = (pn * G.cin + ch[static_cast<size_t>(pc)]) * G.inner + G.inner - 1;
        const Strides one{2, 2, 2, 2};
        if (prev % 2 == 0)
          e.gdma(gather_load(G.dt, {1, 1, 1, 1}, G.addr(G.src, prev, "load"), in_s, 1, one));
        else  // with the element before it, which lands in the spare byte 0
          e.gdma(gather_load(G.dt, {1, 1, 1, 2}, G.addr(G.src, prev - 1, "load"), in_s, 0, one));
        e.gdma(gather_store(G.dt, {1, 1, 1, G.inner + 1}, 1, local, G.addr(G.dst, to - 1, "store"), out_s));
      } else {
        e.gdma(gather_store(G.dt, {1, kt, 1, G.inner}, 2, local, G.addr(G.dst, to, "store"), out_s));
      }
      ++info.tiles;
      info.lmem_bytes = std::max(info.lmem_bytes,
                                 align_up(static_cast<uint64_t>(1 + ceil_div(kt, a.lanes) * row_bytes), 4));
      k0 += kt;
    }
}

OpPlanInfo emit_gather(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a) {
  const IGather& gt = *op.as<IGather>();
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  if (x.shape.size() < 2 || y.shape.size() != x.shape.size() || y.dtype != x.dtype ||
      y.shape[1] != static_cast<int64_t>(gt.channels.size()))
    throw Error(fmt::format("{}: gather from {} {} to {} {} is malformed", op.name, name(x.dtype),
                            shape_str(x.shape), name(y.dtype), shape_str(y.shape)));
  GatherGeom G{y.dtype,
               x.shape[0],
               x.shape[1],
               y.shape[1],
               num_elements(Shape(x.shape.begin() + 2, x.shape.end())),
               ddr.of(g, op.inputs[0]),
               ddr.of(g, op.output)};
  for (int64_t c : gt.channels)
    if (c < 0 || c >= G.cin)
      throw Error(fmt::format("{}: gather channel {} is outside [0, {})", op.name, c, G.cin));
  OpPlanInfo info;
  if (G.n == 0 || G.cout == 0 || G.inner == 0) return info;
  for (const GatherRun& r : gather_runs(gt.channels)) {
    if (is_4bit(G.dt) && G.inner % 2)
      gather_run_nibbles(e, G, r, gt.channels, a, op, info);
    else
      gather_run_compact(e, G, r, a, op, info);
  }
  return info;
}

}  // namespace

OpPlanInfo emit_op(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                   const Arch& a) {
  if (op.as<IMatmul>()) return emit_matmul(e, g, op, ddr, c, a);
  if (op.as<IConcat>()) return emit_concat(e, g, op, ddr, a);
  if (op.as<IGather>()) return emit_gather(e, g, op, ddr, a);
  return emit_window(e, g, op, ddr, c, a);
}

}  // namespace tpusim::compiler::be
