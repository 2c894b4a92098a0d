#include "compiler/rearrange.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/error.h"

namespace tpusim::compiler {

namespace {

std::vector<int64_t> dense_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t k = s.size(); k-- > 1;) st[k - 1] = st[k] * s[k];
  return st;
}

void check_rank(const char* what, size_t got, size_t rank) {
  if (got != rank) throw Error(fmt::format("{} has {} entries for an input of rank {}", what, got, rank));
}

// Drops extent-1 dims; merges dim k into k+1 when stepping k is stepping k+1 dims[k+1] times.
void simplify(StridedView& v) {
  std::vector<int64_t> d, s;
  for (size_t k = 0; k < v.dims.size(); ++k) {
    if (v.dims[k] == 1) continue;
    if (!d.empty() && s.back() == v.strides[k] * v.dims[k]) {
      d.back() *= v.dims[k];
      s.back() = v.strides[k];
      continue;
    }
    d.push_back(v.dims[k]);
    s.push_back(v.strides[k]);
  }
  if (d.empty() || v.dims.empty()) d = {1}, s = {1};
  for (int64_t e : v.out)
    if (e == 0) d = {0}, s = {1};
  v.dims = std::move(d);
  v.strides = std::move(s);
}

}  // namespace

Shape rearrange_shape(const RearrangeAttrs& a, const Shape& in) { return rearrange_view(a, in).out; }

StridedView rearrange_view(const RearrangeAttrs& a, const Shape& in) {
  const size_t r = in.size();
  const std::vector<int64_t> xs = dense_strides(in);
  StridedView v;
  using K = RearrangeAttrs::Kind;
  switch (a.kind) {
    case K::Transpose: {
      check_rank("perm", a.perm.size(), r);
      std::vector<bool> seen(r, false);
      for (int64_t p : a.perm) {
        if (p < 0 || p >= static_cast<int64_t>(r) || seen[static_cast<size_t>(p)])
          throw Error(fmt::format("perm [{}] is not a permutation of {} axes", fmt::join(a.perm, ", "), r));
        seen[static_cast<size_t>(p)] = true;
        v.out.push_back(in[static_cast<size_t>(p)]);
        v.strides.push_back(xs[static_cast<size_t>(p)]);
      }
      v.dims = v.out;
      break;
    }
    case K::Slice: {
      check_rank("starts", a.starts.size(), r);
      check_rank("steps", a.steps.size(), r);
      check_rank("sizes", a.sizes.size(), r);
      for (size_t k = 0; k < r; ++k) {
        const int64_t st = a.starts[k], step = a.steps[k], n = a.sizes[k];
        if (step < 1 || st < 0 || n < 0 || (n > 0 && st + (n - 1) * step >= in[k]))
          throw Error(fmt::format("slice of axis {} (start {}, step {}, {} elements) leaves [0, {})", k, st,
                                  step, n, in[k]));
        v.out.push_back(n);
        v.strides.push_back(step * xs[k]);
        v.offset += st * xs[k];
      }
      v.dims = v.out;
      break;
    }
    case K::Resize: {
      check_rank("scales", a.scales.size(), r);
      for (size_t k = 0; k < r; ++k) {
        if (a.scales[k] < 1)
          throw Error(fmt::format("scale {} of axis {} is not a positive integer", a.scales[k], k));
        v.out.push_back(in[k] * a.scales[k]);
        v.dims.insert(v.dims.end(), {in[k], a.scales[k]});
        v.strides.insert(v.strides.end(), {xs[k], 0});
      }
      break;
    }
  }
  simplify(v);
  return v;
}

}  // namespace tpusim::compiler
