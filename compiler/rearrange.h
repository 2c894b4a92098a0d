// A Rearrange (Transpose, Slice, nearest Resize) as a strided view: y's element at multi-index i
// over `dims` (row-major, so y's flat order) is x's flat element offset + sum_k i_k * strides[k].
// A stride 0 repeats an element (the copies of a Resize). Dims of extent 1 are dropped and
// neighbouring dims that walk x contiguously are merged, so a view has as few dims as possible:
// the back end maps the innermost four onto one DMA and loops over the rest.
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/ops.h"

namespace tpusim::compiler {

struct StridedView {
  Shape out;  // the output shape
  std::vector<int64_t> dims, strides;
  int64_t offset = 0;
};

// The output shape of a Rearrange of an input of shape `in`; throws Error (the reason) when the
// attributes do not fit the input.
Shape rearrange_shape(const RearrangeAttrs& a, const Shape& in);
StridedView rearrange_view(const RearrangeAttrs& a, const Shape& in);

// y[j] = x[view(j)] for every output element, in y's order (the plain reference walk).
template <class T>
void copy_view(const StridedView& v, const T* x, T* y) {
  const size_t r = v.dims.size();
  int64_t total = 1;
  for (int64_t d : v.dims) total *= d;
  std::vector<int64_t> i(r, 0);
  int64_t at = v.offset;
  for (int64_t j = 0; j < total; ++j) {
    y[j] = x[at];
    for (size_t k = r; k-- > 0;) {  // odometer: the last dim moves fastest
      at += v.strides[k];
      if (++i[k] < v.dims[k]) break;
      at -= v.strides[k] * v.dims[k];
      i[k] = 0;
    }
  }
}

}  // namespace tpusim::compiler
