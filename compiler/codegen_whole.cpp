// Back end, one op as a single tile in LMEM (codegen_whole.h).
#include "compiler/codegen_whole.h"

namespace tpusim::compiler::be {

Whole whole_of(const IntGraph& g, const IOp& op, const Arch& a) {
  Whole h;
  if (op.as<IMatmul>()) {
    const MatmulShape s = matmul_shape(g, op);
    h.matmul = true, h.ms = s, h.mt = {0, s.m, 0, s.n};
    h.in_dims[0] = {s.m, s.k, 1, 1}, h.out_dims = {s.m, s.n, 1, 1};
    h.in_dt[0] = s.in_dt, h.out_dt = s.out_dt;
    h.in_bytes[0] = local_bytes(a, s.in_dt, s.m, s.k, 1, 1);
    h.c = const_bytes(s, a);
    h.out = local_bytes(a, s.out_dt, s.m, s.n, 1, 1);
  } else if (op.as<IConv>() || op.as<IPool>() || op.as<IEltwise>() || op.as<ILut>() || op.as<IRequant>()) {
    const WindowShape s = window_shape(g, op);
    h.ws = s, h.wt = window_tiles(s, s.n, s.oc, s.oh).front();
    // The whole input, with the op's own padding: a band tile drops input rows no output reads
    // (a strided window's last ones), but a kept input has the producer's full shape.
    h.wt.lo = 0, h.wt.hi = s.ih, h.wt.pad_t = s.pad_t, h.wt.pad_b = s.pad_b;
    h.n_inputs = s.n_inputs;
    for (int i = 0; i < s.n_inputs; ++i) {
      h.in_dims[i] = {s.n, h.wt.ict, s.ih, s.iw}, h.in_dt[i] = i ? s.in_dt2 : s.in_dt;
      h.in_bytes[i] = local_bytes(a, h.in_dt[i], s.n, h.wt.ict, s.ih, s.iw);
    }
    h.out_dims = {s.n, s.oc, s.oh, s.ow}, h.out_dt = s.out_dt;
    h.c = const_bytes(s, a);
    h.out = local_bytes(a, s.out_dt, s.n, s.oc, s.oh, s.ow);
  } else if (op.as<ILayerNorm>() || op.as<ISoftmax>()) {
    const NormShape s = norm_shape(g, op, a);
    if (s.rows == 0 || s.rows >= kMaxDim || s.d > kMaxDim || op.rq.per_channel()) return h;
    h.norm = true, h.ns = s;
    h.in_dims[0] = h.out_dims = {s.rows, s.d, 1, 1};
    h.in_dt[0] = s.in_dt, h.out_dt = s.out_dt;
    h.in_bytes[0] = local_bytes(a, s.in_dt, s.rows, s.d, 1, 1);
    h.c.lut = s.table_bytes;
    h.out = local_bytes(a, s.out_dt, s.rows, s.d, 1, 1);
  } else {
    return h;
  }
  h.ok = h.in_bytes[0] + h.in_bytes[1] + h.consts() + h.out <= a.lane_bytes;
  return h;
}

TileCode whole_code(const Whole& h, const IntGraph& g, const IOp& op, const Bufs& b, const DdrMap& ddr,
                    const OpConsts& c, const Arch& a) {
  if (h.matmul) return matmul_code(g, op, h.ms, h.mt, b, ddr, c, a);
  if (h.norm) return norm_code(g, op, h.ns, 0, h.ns.rows, b, ddr, c, a);
  return window_code(g, op, h.ws, h.wt, b, ddr, c, a);
}

}  // namespace tpusim::compiler::be
