// GDMA kernel: dma.load (DDR -> LMEM), dma.store (LMEM -> DDR), dma.copy (LMEM -> LMEM). Elements
// are copied as they are (no conversion); 4-bit elements move nibble by nibble, so source and
// destination may start on different nibbles. check() has validated both footprints and ruled out
// copy overlap, and execute() the DDR span, so the loops index memory directly.
#include "isa/numerics.h"
#include "isa/semantics_internal.h"

namespace tpusim::sem {

void exec_dma(const Instr& in, const MemView& m) {
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
