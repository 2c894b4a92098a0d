// GDMA kernel: dma.load (DDR -> LMEM), dma.store (LMEM -> DDR), dma.copy (LMEM -> LMEM). Elements
// are copied as they are (no conversion); 4-bit elements move nibble by nibble, so source and
// destination may start on different nibbles. check() has validated both footprints and ruled out
// copy overlap, and execute() the DDR span, so the loops index memory directly.
// exec_dma is the plain reference; exec_dma_fast, its twin, moves contiguous runs with memcpy.
#include <cstring>

#include "isa/numerics.h"
#include "isa/semantics_internal.h"

namespace tpusim::sem {

void exec_dma(const Instr& in, const MemView& m, ExecCounters&) {
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &dst = ops.get("dst");
  const DType t = src.dtype;
  for (uint64_t n = 0; n < src.n; ++n)
    for (uint64_t c = 0; c < src.c; ++c) {
      const Plane from = plane(src, m, n, c), to = plane(dst, m, n, c);
      for (uint64_t h = 0; h < src.h; ++h)
        for (uint64_t w = 0; w < src.w; ++w)
          store_elem(to.base, to.index + h * dst.sh + w * dst.sw, t,
                     load_elem(from.base, from.index + h * src.sh + w * src.sw, t));
    }
}

}  // namespace tpusim::sem

namespace tpusim::sem {

namespace {

// Copies `count` unit-stride elements from element index `from` to `to`; whole bytes move with
// memcpy, 4-bit elements too when both start on a byte boundary (an odd tail nibble is stored
// alone, so the neighbouring nibble is preserved).
void copy_run(const uint8_t* src, uint64_t from, uint8_t* dst, uint64_t to, uint64_t count, DType t) {
  const int b = bits(t);
  if (b >= 8) {
    std::memcpy(dst + to * (b / 8), src + from * (b / 8), count * (b / 8));
    return;
  }
  if (from % 2 == 0 && to % 2 == 0) {
    std::memcpy(dst + to / 2, src + from / 2, count / 2);
    if (count % 2) store_elem(dst, to + count - 1, t, load_elem(src, from + count - 1, t));
    return;
  }
  for (uint64_t i = 0; i < count; ++i) store_elem(dst, to + i, t, load_elem(src, from + i, t));
}

}  // namespace

void exec_dma_fast(const Instr& in, const MemView& m, ExecCounters&) {
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &dst = ops.get("dst");
  const DType t = src.dtype;
  const bool rows = src.sw == 1 && dst.sw == 1;
  // Whole (n, c) planes are one run when both sides store their rows back to back.
  const bool planes = rows && src.sh == src.w && dst.sh == dst.w;
  for (uint64_t n = 0; n < src.n; ++n)
    for (uint64_t c = 0; c < src.c; ++c) {
      const Plane from = plane(src, m, n, c), to = plane(dst, m, n, c);
      if (planes) {
        copy_run(from.base, from.index, to.base, to.index, src.h * src.w, t);
        continue;
      }
      for (uint64_t h = 0; h < src.h; ++h) {
        const uint64_t fi = from.index + h * src.sh, ti = to.index + h * dst.sh;
        if (rows)
          copy_run(from.base, fi, to.base, ti, src.w, t);
        else
          for (uint64_t w = 0; w < src.w; ++w)
            store_elem(to.base, ti + w * dst.sw, t, load_elem(from.base, fi + w * src.sw, t));
      }
    }
}

}  // namespace tpusim::sem
