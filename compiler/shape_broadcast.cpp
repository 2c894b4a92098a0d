// Numpy-style broadcasting helpers declared in shape_infer.h (used by shape inference, the
// interpreters and constant folding).
#include <algorithm>

#include "compiler/shape_infer.h"

namespace tpusim::compiler {

std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

size_t broadcast_index(const Shape& s, const Shape& y, const std::vector<int64_t>& ys, int64_t i) {
  int64_t off = 0, st = 1;
  for (size_t d = s.size(); d-- > 0;) {
    const size_t yd = d + y.size() - s.size();
    if (s[d] != 1) off += (i / ys[yd] % y[yd]) * st;
    st *= s[d];
  }
  return static_cast<size_t>(off);
}

bool channel_operand(const Shape& c, const Shape& y) {
  if (num_elements(c) == 1) return true;
  if (y.size() != 4 || c.size() > 4) return false;
  for (size_t d = 0; d < c.size(); ++d)
    if (c[d] != 1 && (y.size() - c.size() + d != 1 || c[d] != y[1])) return false;
  return true;
}

}  // namespace tpusim::compiler
