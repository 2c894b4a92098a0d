// TIU kernels: conv2d, matmul, pool, eltwise, requant, lut. Plain reference loops: fields and tables are
// decoded once, footprints were validated by check() (and DDR/LMEM spans by execute()), so the
// loops index memory without per-element bounds checks.
#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "isa/numerics.h"
#include "isa/semantics_internal.h"

namespace tpusim::sem {

int32_t Requantizer::apply(int32_t acc, uint64_t channel) const {
  const size_t i = per_channel ? channel : 0;
  return requant(acc, m0[i], shift[i], zp, lo, hi);
}

Requantizer make_requantizer(const RequantFields& f, const Operands& ops, const MemView& m, uint64_t channels,
                             const char* mnemonic) {
  Requantizer r{static_cast<int32_t>(f.out_zp),
                static_cast<int32_t>(f.clamp_lo),
                static_cast<int32_t>(f.clamp_hi),
                f.rq_per_channel != 0,
                {},
                {}};
  if (!r.per_channel) {
    r.m0.push_back(static_cast<int32_t>(f.m0));
    r.shift.push_back(static_cast<int>(f.shift));
    return r;
  }
  const Tensor& table = ops.get("rq");
  for (uint64_t o = 0; o < channels; ++o) {
    const Plane p = plane(table, m, 0, o);
    const int32_t m0 = load_elem(p.base, p.index, DType::Int32);
    const int32_t shift = load_elem(p.base, p.index + 1, DType::Int32);
    if (m0 < 1 || shift < 0 || shift > kMaxShift)
      throw Error(fmt::format("{}: rq table channel {}: M0 {} shift {} (need M0 >= 1, 0 <= shift <= {})",
                              mnemonic, o, m0, shift, kMaxShift));
    r.m0.push_back(m0);
    r.shift.push_back(shift);
  }
  return r;
}

int32_t saturate_acc(int64_t v, ExecCounters& counters) {
  const int32_t s = sat_int32(v);
  if (s != v) ++counters.acc_overflows;
  return s;
}

std::vector<int32_t> read_bias(const Operands& ops, const MemView& m, uint64_t channels) {
  std::vector<int32_t> bias(channels, 0);
  if (const Tensor* t = ops.find("bias"))
    for (uint64_t o = 0; o < channels; ++o) {
      const Plane p = plane(*t, m, 0, o);
      bias[o] = load_elem(p.base, p.index, DType::Int32);
    }
  return bias;
}

namespace {

// Eltwise input rescale: sat_int32(round_shift((v - zp) * m0, shift)). For an int32 input the
// product can reach (2^31 + 2^15) * (2^31 - 1) > 2^62; round_shift is exact over all of int64.
int32_t rescale(int64_t centred, int64_t m0, int shift, ExecCounters& counters) {
  return saturate_acc(round_shift(centred * m0, shift), counters);
}

}  // namespace

void exec_conv2d(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto c = ops::Conv2d::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &weight = ops.get("weight"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(c), ops, m, dst.c, "conv2d");
  const std::vector<int32_t> bias = read_bias(ops, m, dst.c);
  const int64_t ih = c.ih, iw = c.iw, kh = c.kh, kw = c.kw, oh = dst.h, ow = dst.w;
  const int64_t icg = c.ic / c.groups, ocg = c.oc / c.groups;
  std::vector<Plane> group_in(icg);  // input planes of the current output channel's group
  for (uint64_t n = 0; n < dst.n; ++n)
    for (int64_t o = 0; o < c.oc; ++o) {
      const int64_t g = o / ocg;
      for (int64_t ci = 0; ci < icg; ++ci) group_in[ci] = plane(src, m, n, g * icg + ci);
      const Plane wp = plane(weight, m, 0, o), out = plane(dst, m, n, o);
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t acc = bias[o];
          for (int64_t ci = 0; ci < icg; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky) {
              const int64_t y = oy * c.stride_h - c.pad_t + ky * c.dil_h;
              if (y < 0 || y >= ih) continue;  // padding row: (in_zp - in_zp) * w = 0
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t x = ox * c.stride_w - c.pad_l + kx * c.dil_w;
                if (x < 0 || x >= iw) continue;
                const int64_t xv = load_elem(group_in[ci].base, group_in[ci].index + y * iw + x, src.dtype);
                const int64_t wv = load_elem(wp.base, wp.index + (ci * kh + ky) * kw + kx, weight.dtype);
                acc += (xv - c.in_zp) * wv;
              }
            }
          store_elem(out.base, out.index + oy * ow + ox, dst.dtype, rq.apply(saturate_acc(acc, counters), o));
        }
    }
  counters.macs += dst.n * dst.c * dst.h * dst.w * static_cast<uint64_t>(icg * kh * kw);
}

void exec_matmul(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto mm = ops::Matmul::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &weight = ops.get("weight"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(mm), ops, m, dst.c, "matmul");
  const std::vector<int32_t> bias = read_bias(ops, m, dst.c);
  std::vector<int64_t> row(mm.k);  // (x[i, k] - in_zp) of the current row
  for (int64_t i = 0; i < mm.m; ++i) {
    for (int64_t k = 0; k < mm.k; ++k) {
      const Plane p = plane(src, m, i, k);
      row[k] = load_elem(p.base, p.index, src.dtype) - mm.in_zp;
    }
    for (int64_t j = 0; j < mm.n; ++j) {
      const Plane wp = plane(weight, m, 0, j), out = plane(dst, m, i, j);
      int64_t acc = bias[j];
      for (int64_t k = 0; k < mm.k; ++k) acc += row[k] * load_elem(wp.base, wp.index + k, weight.dtype);
      store_elem(out.base, out.index, dst.dtype, rq.apply(saturate_acc(acc, counters), j));
    }
  }
  counters.macs += static_cast<uint64_t>(mm.m * mm.n * mm.k);
}

void exec_pool(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto p = ops::Pool::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(p), ops, m, dst.c, "pool");
  const bool is_max = p.mode == static_cast<int64_t>(PoolMode::Max);
  const int64_t ih = p.ih, iw = p.iw, oh = dst.h, ow = dst.w;
  for (uint64_t n = 0; n < dst.n; ++n)
    for (uint64_t c = 0; c < dst.c; ++c) {
      const Plane x = plane(src, m, n, c), out = plane(dst, m, n, c);
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          // The window clipped to the input; check() guarantees it is not empty.
          const int64_t y0 = oy * p.stride_h - p.pad_t, x0 = ox * p.stride_w - p.pad_l;
          const int64_t ylo = std::max<int64_t>(y0, 0), yhi = std::min(y0 + p.kh, ih);
          const int64_t xlo = std::max<int64_t>(x0, 0), xhi = std::min(x0 + p.kw, iw);
          int64_t max = INT64_MIN, sum = 0;
          for (int64_t y = ylo; y < yhi; ++y)
            for (int64_t xx = xlo; xx < xhi; ++xx) {
              const int64_t v = load_elem(x.base, x.index + y * iw + xx, src.dtype) - p.in_zp;
              max = std::max(max, v);
              sum += v;
            }
          const int64_t count = p.count_pad ? p.kh * p.kw : (yhi - ylo) * (xhi - xlo);
          const int64_t q = is_max ? max : rounding_div(sum, count);
          store_elem(out.base, out.index + oy * ow + ox, dst.dtype, rq.apply(saturate_acc(q, counters), c));
        }
    }
}

void exec_eltwise(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto e = ops::Eltwise::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &a = ops.get("a"), &b = ops.get("b"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(e), ops, m, dst.c, "eltwise");
  const auto op = static_cast<EltOp>(e.op);
  const uint64_t plane_elems = dst.h * dst.w;
  for (uint64_t n = 0; n < dst.n; ++n)
    for (uint64_t c = 0; c < dst.c; ++c) {
      const Plane pa = plane(a, m, n, c), pb = plane(b, m, n, c), out = plane(dst, m, n, c);
      for (uint64_t i = 0; i < plane_elems; ++i) {
        // Both inputs are read before the output is written: in-place (dst == a or b) is fine.
        const int32_t av =
            rescale(load_elem(pa.base, pa.index + i, a.dtype) - e.a_zp, e.a_m0, e.a_shift, counters);
        const int32_t bv =
            rescale(load_elem(pb.base, pb.index + i, b.dtype) - e.b_zp, e.b_m0, e.b_shift, counters);
        int32_t acc = 0;
        switch (op) {
          case EltOp::Add: acc = saturate_acc(int64_t{av} + bv, counters); break;
          case EltOp::Mul: acc = saturate_acc(int64_t{av} * bv, counters); break;
          case EltOp::Max: acc = std::max(av, bv); break;
        }
        store_elem(out.base, out.index + i, dst.dtype, rq.apply(acc, c));
      }
    }
}

void exec_requant(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto r = ops::Requant::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(r), ops, m, dst.c, "requant");
  const uint64_t plane_elems = dst.h * dst.w;
  for (uint64_t n = 0; n < dst.n; ++n)
    for (uint64_t c = 0; c < dst.c; ++c) {
      const Plane x = plane(src, m, n, c), out = plane(dst, m, n, c);
      for (uint64_t i = 0; i < plane_elems; ++i) {
        const int64_t centred = int64_t{load_elem(x.base, x.index + i, src.dtype)} - r.in_zp;
        store_elem(out.base, out.index + i, dst.dtype, rq.apply(saturate_acc(centred, counters), c));
      }
    }
}

void exec_lut(const Instr& in, const MemView& m, ExecCounters&) {
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &table = ops.get("table"), &dst = ops.get("dst");
  const int32_t qmin = static_cast<int32_t>(traits(src.dtype).qmin);
  const uint64_t plane_elems = dst.h * dst.w;
  for (uint64_t n = 0; n < dst.n; ++n)
    for (uint64_t c = 0; c < dst.c; ++c) {
      const Plane x = plane(src, m, n, c), out = plane(dst, m, n, c);
      const Plane tab = plane(table, m, 0, c % m.geo.lanes);  // the copy in this channel's lane
      for (uint64_t i = 0; i < plane_elems; ++i) {
        const auto entry = static_cast<uint64_t>(load_elem(x.base, x.index + i, src.dtype) - qmin);
        store_elem(out.base, out.index + i, dst.dtype, load_elem(tab.base, tab.index + entry, table.dtype));
      }
    }
}

}  // namespace tpusim::sem
