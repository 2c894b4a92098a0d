#include "sim/timing.h"

#include <algorithm>

#include "isa/dtype.h"

namespace tpusim::sim {

namespace {
uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
uint64_t u(int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(v, 0)); }
DType dt(int64_t v) { return static_cast<DType>(v); }
}  // namespace

Geometry geometry(const Arch& a) { return Geometry{a.lanes, a.lane_bytes, a.ddr_bytes}; }

uint64_t dma_bytes(const Instr& in) {
  const auto d = ops::DmaLoad::from(in);  // load, store and copy share one field list
  return packed_bytes(dt(d.dtype), u(d.n) * u(d.c) * u(d.h) * u(d.w));
}

uint64_t ddr_bus_cycles(uint64_t bytes, const Arch& a) { return ceil_div(bytes, a.ddr_bytes_per_cycle); }

DmaPhases dma_phases(const Instr& in, const Arch& a) {
  DmaPhases p;
  p.startup = a.gdma_startup;
  if (in.op == Opcode::DmaCopy) {
    p.copy_cycles = ceil_div(dma_bytes(in), a.lmem_copy_bytes_per_cycle);
  } else {
    p.latency = a.ddr_latency;
    p.bus_bytes = dma_bytes(in);
  }
  return p;
}

uint64_t macs_eff(DType in, DType weight, const Arch& a) {
  return uint64_t{a.macs_per_lane} * (is_4bit(in) && is_4bit(weight) ? a.int4_speedup : 1);
}

TiuUnit tiu_unit(Opcode op) {
  switch (op) {
    case Opcode::Conv2d:
    case Opcode::Matmul: return TiuUnit::MacArray;
    case Opcode::Requant: return TiuUnit::RequantUnit;
    default: return TiuUnit::VectorUnit;
  }
}

const char* tiu_unit_name(TiuUnit un) {
  switch (un) {
    case TiuUnit::MacArray: return "mac_array";
    case TiuUnit::VectorUnit: return "vector_unit";
    case TiuUnit::RequantUnit: return "requant_unit";
  }
  return "?";
}

uint64_t cycles(const Instr& in, const Arch& a) {
  const uint64_t lanes = a.lanes, mpl = a.macs_per_lane;
  switch (in.op) {
    case Opcode::End:
    case Opcode::Sync: return 0;
    case Opcode::DmaLoad:
    case Opcode::DmaStore:
    case Opcode::DmaCopy: {
      const DmaPhases p = dma_phases(in, a);
      return p.startup + p.latency + ddr_bus_cycles(p.bus_bytes, a) + p.copy_cycles;
    }
    case Opcode::Conv2d: {
      const auto c = ops::Conv2d::from(in);
      const uint64_t oh = u(window_out(c.ih, c.pad_t, c.pad_b, c.kh, c.stride_h, c.dil_h));
      const uint64_t ow = u(window_out(c.iw, c.pad_l, c.pad_r, c.kw, c.stride_w, c.dil_w));
      const uint64_t reduce = u(c.ic) / std::max<uint64_t>(u(c.groups), 1) * u(c.kh) * u(c.kw);
      return a.tiu_startup + ceil_div(u(c.oc), lanes) *
                                 ceil_div(reduce, macs_eff(dt(c.in_dtype), dt(c.w_dtype), a)) * u(c.n) * oh *
                                 ow;
    }
    case Opcode::Matmul: {
      const auto m = ops::Matmul::from(in);
      return a.tiu_startup +
             ceil_div(u(m.n), lanes) * ceil_div(u(m.k), macs_eff(dt(m.in_dtype), dt(m.w_dtype), a)) * u(m.m);
    }
    case Opcode::Pool: {
      const auto p = ops::Pool::from(in);
      const uint64_t oh = u(window_out(p.ih, p.pad_t, p.pad_b, p.kh, p.stride_h, 1));
      const uint64_t ow = u(window_out(p.iw, p.pad_l, p.pad_r, p.kw, p.stride_w, 1));
      return a.tiu_startup + ceil_div(u(p.c), lanes) * u(p.n) * oh * ow * ceil_div(u(p.kh) * u(p.kw), mpl);
    }
    case Opcode::Eltwise: {
      const auto e = ops::Eltwise::from(in);
      return a.tiu_startup + ceil_div(u(e.c), lanes) * ceil_div(u(e.n) * u(e.h) * u(e.w), mpl);
    }
    case Opcode::Requant: {
      const auto r = ops::Requant::from(in);
      return a.tiu_startup + ceil_div(u(r.c), lanes) * ceil_div(u(r.n) * u(r.h) * u(r.w), mpl);
    }
  }
  return 0;
}

uint64_t requant_stage_cycles(const Instr& in, const Arch& a) {
  uint64_t c = 0, nhw = 0;  // output channels and N*H*W
  switch (in.op) {
    case Opcode::Conv2d: {
      const auto v = ops::Conv2d::from(in);
      c = u(v.oc);
      nhw = u(v.n) * u(window_out(v.ih, v.pad_t, v.pad_b, v.kh, v.stride_h, v.dil_h)) *
            u(window_out(v.iw, v.pad_l, v.pad_r, v.kw, v.stride_w, v.dil_w));
      break;
    }
    case Opcode::Matmul: {
      const auto v = ops::Matmul::from(in);
      c = u(v.n), nhw = u(v.m);
      break;
    }
    case Opcode::Pool: {
      const auto v = ops::Pool::from(in);
      c = u(v.c);
      nhw = u(v.n) * u(window_out(v.ih, v.pad_t, v.pad_b, v.kh, v.stride_h, 1)) *
            u(window_out(v.iw, v.pad_l, v.pad_r, v.kw, v.stride_w, 1));
      break;
    }
    case Opcode::Eltwise: {
      const auto v = ops::Eltwise::from(in);
      c = u(v.c), nhw = u(v.n) * u(v.h) * u(v.w);
      break;
    }
    case Opcode::Requant: {
      const auto v = ops::Requant::from(in);
      c = u(v.c), nhw = u(v.n) * u(v.h) * u(v.w);
      break;
    }
    default: return 0;
  }
  return ceil_div(c, a.lanes) * ceil_div(nhw, a.macs_per_lane);
}

uint64_t macs(const Instr& in) {
  if (in.op == Opcode::Conv2d) {
    const auto c = ops::Conv2d::from(in);
    const uint64_t oh = u(window_out(c.ih, c.pad_t, c.pad_b, c.kh, c.stride_h, c.dil_h));
    const uint64_t ow = u(window_out(c.iw, c.pad_l, c.pad_r, c.kw, c.stride_w, c.dil_w));
    return u(c.n) * u(c.oc) * oh * ow * (u(c.ic) / std::max<uint64_t>(u(c.groups), 1)) * u(c.kh) * u(c.kw);
  }
  if (in.op == Opcode::Matmul) {
    const auto m = ops::Matmul::from(in);
    return u(m.m) * u(m.n) * u(m.k);
  }
  return 0;
}

uint64_t bank_bytes(const Arch& a) { return std::max<uint64_t>(a.lane_bytes / a.banks_per_lane, 1); }

namespace {
bool lanes_meet(const Access& x, const Access& y) { return x.lane_lo < y.lane_hi && y.lane_lo < x.lane_hi; }
}  // namespace

bool share_bank(const Access& x, const Access& y, const Arch& a) {
  if (!lanes_meet(x, y) || x.hi <= x.lo || y.hi <= y.lo) return false;
  const uint64_t bb = bank_bytes(a);
  return x.lo / bb <= (y.hi - 1) / bb && y.lo / bb <= (x.hi - 1) / bb;
}

bool share_bytes(const Access& x, const Access& y) { return lanes_meet(x, y) && x.lo < y.hi && y.lo < x.hi; }

std::vector<Access> lmem_accesses(const Instr& in, const Geometry& geo) {
  std::vector<Access> all = accesses(in, geo);
  std::erase_if(all, [](const Access& x) { return x.space != Space::Lmem; });
  return all;
}

uint64_t conflict_pairs(const Instr& in, const Arch& a) {
  if (spec(in.op).engine != Engine::Tiu) return 0;
  const std::vector<Access> acc = lmem_accesses(in, geometry(a));
  uint64_t pairs = 0;
  for (size_t i = 0; i < acc.size(); ++i)
    for (size_t j = i + 1; j < acc.size(); ++j) pairs += share_bank(acc[i], acc[j], a) ? 1 : 0;
  return pairs;
}

uint64_t tiu_duration(const Instr& in, const Arch& a) {
  return cycles(in, a) + uint64_t{a.bank_conflict_cycles} * conflict_pairs(in, a);
}

}  // namespace tpusim::sim
