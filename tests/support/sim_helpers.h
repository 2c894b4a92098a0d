// Instruction builders for the simulator tests: compact tensors in DDR (NCHW) and LMEM (the
// isa_table.h layout), per-tensor identity-ish requant, and small programs.
#pragma once
#include <cstdint>

#include "base/int_math.h"
#include "isa/arch.h"
#include "isa/program.h"

namespace simtest {
using namespace tpusim;

// dma.load/store/copy of a compact [n, c, h, w] tensor. DDR side: NCHW strides; LMEM side: compact
// local strides (sn = ceil(c/lanes)*h*w).
inline ops::DmaLoad dma_fields(DType t, int64_t n, int64_t c, int64_t h, int64_t w, uint32_t lanes,
                               bool src_ddr, bool dst_ddr) {
  ops::DmaLoad d;
  d.dtype = static_cast<int64_t>(t);
  d.n = n, d.c = c, d.h = h, d.w = w;
  const int64_t sn_local = ceil_div(c, lanes) * h * w;
  d.src_sn = src_ddr ? c * h * w : sn_local, d.src_sc = h * w, d.src_sh = w, d.src_sw = 1;
  d.dst_sn = dst_ddr ? c * h * w : sn_local, d.dst_sc = h * w, d.dst_sh = w, d.dst_sw = 1;
  return d;
}
inline Instr load(DType t, int64_t n, int64_t c, int64_t h, int64_t w, uint64_t ddr, uint64_t lmem,
                  uint32_t lanes) {
  ops::DmaLoad d = dma_fields(t, n, c, h, w, lanes, true, false);
  d.src = static_cast<int64_t>(ddr), d.dst = static_cast<int64_t>(lmem);
  return d.instr();
}
// dma.store and dma.copy share dma.load's field list (TPUSIM_FIELDS_DMA): only the opcode differs.
inline Instr store(DType t, int64_t n, int64_t c, int64_t h, int64_t w, uint64_t lmem, uint64_t ddr,
                   uint32_t lanes) {
  ops::DmaLoad d = dma_fields(t, n, c, h, w, lanes, false, true);
  d.src = static_cast<int64_t>(lmem), d.dst = static_cast<int64_t>(ddr);
  Instr in = d.instr();
  in.op = Opcode::DmaStore;
  return in;
}
inline Instr copy(DType t, int64_t n, int64_t c, int64_t h, int64_t w, uint64_t from, uint64_t to,
                  uint32_t lanes) {
  ops::DmaLoad d = dma_fields(t, n, c, h, w, lanes, false, false);
  d.src = static_cast<int64_t>(from), d.dst = static_cast<int64_t>(to);
  Instr in = d.instr();
  in.op = Opcode::DmaCopy;
  return in;
}

// Per-tensor requant by 2^-shift into `out` with the full clamp range of the type.
template <class Op>
void set_requant(Op& op, DType out, int64_t shift = 30) {
  op.out_dtype = static_cast<int64_t>(out);
  op.out_zp = 0;
  op.rq_per_channel = 0;
  op.m0 = int64_t{1} << 30;
  op.shift = shift;
  op.clamp_lo = traits(out).qmin;
  op.clamp_hi = traits(out).qmax;
}

struct ConvShape {
  int64_t n, ic, ih, iw, oc, kh, kw, stride, pad, dil, groups;
  DType in = DType::Int8, weight = DType::Int8;
};
inline ops::Conv2d conv(const ConvShape& s, uint64_t src, uint64_t weight, uint64_t dst) {
  ops::Conv2d c;
  c.src = static_cast<int64_t>(src), c.weight = static_cast<int64_t>(weight),
  c.dst = static_cast<int64_t>(dst);
  c.n = s.n, c.ic = s.ic, c.ih = s.ih, c.iw = s.iw, c.oc = s.oc, c.kh = s.kh, c.kw = s.kw;
  c.stride_h = c.stride_w = s.stride;
  c.pad_t = c.pad_b = c.pad_l = c.pad_r = s.pad;
  c.dil_h = c.dil_w = s.dil;
  c.groups = s.groups;
  c.in_dtype = static_cast<int64_t>(s.in), c.w_dtype = static_cast<int64_t>(s.weight);
  set_requant(c, DType::Int8, 8);
  return c;
}

inline Instr sync(int64_t count) {
  ops::Sync s;
  s.count = count;
  return s.instr();
}
inline Instr end() { return ops::End{}.instr(); }

// A program for `a` with the given streams (each must end in end()).
inline Program program(const Arch& a, std::vector<Instr> gdma, std::vector<Instr> tiu) {
  Program p;
  p.arch = ArchRef::of(a);
  p.gdma = std::move(gdma);
  p.tiu = std::move(tiu);
  return p;
}

}  // namespace simtest
