// Back end code generation of IRearrange (Transpose, Slice, Split, nearest Resize): GDMA copies
// only. The view (rearrange.h) reads the input through up to any number of strided dims and writes
// the output densely. Its innermost four dims are one DMA's [n, c, h, w] (c across the lanes), the
// others are loops; each tile is a dma.load with the view's source strides (0 repeats an element)
// into a compact local tensor and a dma.store with the output's dense strides.
//
// 4-bit elements: a DMA's first element must sit at an even element offset in DDR (strides may be
// odd, elements move nibble by nibble inside a transfer); a view whose tiles would start at an odd
// offset is refused with the reason.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "base/error.h"
#include "compiler/codegen.h"

namespace tpusim::compiler::be {

namespace {

constexpr int64_t kMaxStride = std::numeric_limits<uint32_t>::max();

struct View4 {
  std::vector<int64_t> outer_dims, outer_src, outer_dst;  // loops, outermost first
  int64_t d[4], src[4], dst[4];                           // the DMA's n, c, h, w
};

// The view's dims with the output's dense strides beside them; a view of fewer than four dims
// with one long innermost dim has it split into [c, w] (largest factor <= lanes) so the copy
// uses every lane.
View4 to_view4(const StridedView& v, int64_t lanes) {
  std::vector<int64_t> dims = v.dims, src = v.strides;
  if (dims.size() < 4 && dims.back() > lanes) {
    const int64_t e = dims.back(), s = src.back();
    int64_t f = lanes;
    while (e % f) --f;
    if (f > 1) {
      dims.back() = f, src.back() = s * (e / f);
      dims.push_back(e / f), src.push_back(s);
    }
  }
  while (dims.size() < 4) dims.insert(dims.begin(), 1), src.insert(src.begin(), 0);
  std::vector<int64_t> dst(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) dst[k - 1] = dst[k] * dims[k];
  View4 r;
  const size_t outer = dims.size() - 4;
  r.outer_dims.assign(dims.begin(), dims.begin() + static_cast<std::ptrdiff_t>(outer));
  r.outer_src.assign(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(outer));
  r.outer_dst.assign(dst.begin(), dst.begin() + static_cast<std::ptrdiff_t>(outer));
  for (size_t k = 0; k < 4; ++k)
    r.d[k] = dims[outer + k], r.src[k] = src[outer + k], r.dst[k] = dst[outer + k];
  return r;
}

}  // namespace

OpPlanInfo emit_rearrange(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a) {
  // Its act_matmuls read through the view, or its act_matmul writes its output already.
  if (e.options().folds && e.options().folds->skips(op)) return {};
  const StridedView& v = op.as<IRearrange>()->view;
  const ITensor& x = g.tensor(op.inputs[0]);
  const ITensor& y = g.tensor(op.output);
  if (y.shape != v.out || y.dtype != x.dtype)
    throw Error(fmt::format("{}: rearrange from {} {} to {} {} is malformed", op.name, name(x.dtype),
                            shape_str(x.shape), name(y.dtype), shape_str(y.shape)));
  OpPlanInfo info;
  if (num_elements(y.shape) == 0) return info;
  const DType dt = y.dtype;
  const View4 w = to_view4(v, a.lanes);
  for (int k = 0; k < 4; ++k)
    if (w.src[k] > kMaxStride || w.dst[k] > kMaxStride)
      throw Error(fmt::format("{}: a stride of the copy exceeds the DMA's 32-bit stride fields", op.name));
  // Tile [tn, tc, th, tw]: channels by lane groups first, then batch, rows, columns (even for 4-bit).
  const int64_t unit = is_4bit(dt) ? 2 : 1;
  int64_t t[4] = {std::min(w.d[0], kMaxDim), std::min(w.d[1], kMaxDim), std::min(w.d[2], kMaxDim),
                  std::min(w.d[3], kMaxDim - 1)};
  auto fits = [&] { return local_bytes(a, dt, t[0], t[1], t[2], t[3]) <= a.lane_bytes; };
  while (!fits()) {
    if (t[1] > 1)
      t[1] = t[1] > a.lanes ? (ceil_div(t[1], a.lanes) - 1) * a.lanes : t[1] - 1;
    else if (t[0] > 1)
      t[0] = ceil_div(t[0], 2);
    else if (t[2] > 1)
      t[2] = ceil_div(t[2], 2);
    else if (t[3] > unit)
      t[3] = std::max(unit, ceil_div(t[3] / unit, 2) * unit);
    else
      throw Error(fmt::format("{}: rearrange does not fit LMEM", op.name));
  }
  const uint64_t src_base = ddr.of(g, op.inputs[0]), dst_base = ddr.of(g, op.output);
  auto addr = [&](uint64_t base, int64_t elem, const char* what) {
    if (is_4bit(dt) && elem % 2)
      throw Error(
          fmt::format("{}: this copy of a 4-bit tensor would {} at the odd element offset {}, and a "
                      "DMA starts on a byte (store the tensor in 8 bits)",
                      op.name, what, elem));
    return static_cast<int64_t>(base + static_cast<uint64_t>(elem) * bits(dt) / 8);
  };
  // Outer loops: an odometer over outer_dims.
  std::vector<int64_t> o(w.outer_dims.size(), 0);
  int64_t outer_total = 1;
  for (int64_t d : w.outer_dims) outer_total *= d;
  for (int64_t it = 0; it < outer_total; ++it) {
    int64_t s0 = v.offset, d0 = 0;
    for (size_t k = 0; k < o.size(); ++k) s0 += o[k] * w.outer_src[k], d0 += o[k] * w.outer_dst[k];
    for (int64_t n0 = 0; n0 < w.d[0]; n0 += t[0])
      for (int64_t c0 = 0; c0 < w.d[1]; c0 += t[1])
        for (int64_t h0 = 0; h0 < w.d[2]; h0 += t[2])
          for (int64_t w0 = 0; w0 < w.d[3]; w0 += t[3]) {
            const int64_t d[4] = {std::min(t[0], w.d[0] - n0), std::min(t[1], w.d[1] - c0),
                                  std::min(t[2], w.d[2] - h0), std::min(t[3], w.d[3] - w0)};
            const int64_t local[4] = {ceil_div(d[1], a.lanes) * d[2] * d[3], d[2] * d[3], d[3], 1};
            const int64_t at[4] = {n0, c0, h0, w0};
            int64_t from = s0, to = d0;
            for (int k = 0; k < 4; ++k) from += at[k] * w.src[k], to += at[k] * w.dst[k];
            const Dims dd{d[0], d[1], d[2], d[3]};
            const DmaStrides src{w.src[0], w.src[1], w.src[2], w.src[3]},
                dst{w.dst[0], w.dst[1], w.dst[2], w.dst[3]}, lm{local[0], local[1], local[2], local[3]};
            e.gdma(strided_load(dt, dd, addr(src_base, from, "load"), src, 0, lm));
            e.gdma(strided_store(dt, dd, 0, lm, addr(dst_base, to, "store"), dst));
            ++info.tiles;
            info.lmem_bytes = std::max(info.lmem_bytes, local_bytes(a, dt, d[0], d[1], d[2], d[3]));
          }
    for (size_t k = o.size(); k-- > 0;) {
      if (++o[k] < w.outer_dims[k]) break;
      o[k] = 0;
    }
  }
  return info;
}

}  // namespace tpusim::compiler::be
