// Integer reference kernels: the definition of each integer op in plain loops (no SIMD of its own).
// Shapes are NCHW for conv and pool; matmul treats every leading dimension as rows; eltwise and
// requant are elementwise with channel = dimension 1 (for per-channel requant tables); an eltwise
// input of shape [N, C, 1, 1] (or [N, C]) is broadcast over the h and w of a 4-D output.
#include "compiler/int_kernels.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/error.h"
#include "isa/numerics.h"

namespace tpusim::compiler::int_kernels {

namespace {

// Saturate an exact sum to int32, counting the saturation (the TIU's single accumulator clip).
int32_t saturate_counted(int64_t v, uint64_t& overflows) {
  const int32_t s = sat_int32(v);
  overflows += s != v;
  return s;
}

int32_t apply(const RequantSpec& rq, int32_t acc, int64_t channel) {
  const Multiplier& m = rq.at(channel);
  return tpusim::requant(acc, m.m0, m.shift, rq.out_zp, rq.clamp_lo, rq.clamp_hi);
}

size_t idx(int64_t v) { return static_cast<size_t>(v); }

// Channel of element i of a row-major tensor: dimension 1 (0 for rank < 2).
struct ChannelOf {
  int64_t channels = 1, inner = 1;
  explicit ChannelOf(const Shape& s) {
    if (s.size() < 2) return;
    channels = s[1];
    for (size_t d = 2; d < s.size(); ++d) inner *= s[d];
  }
  int64_t operator()(int64_t i) const { return (i / inner) % channels; }
};

}  // namespace

// Each output plane accumulates exactly in int64 (the order of an exact sum does not matter),
// tap by tap over the rows and columns whose window reads a real pixel: the same sums as one
// output element at a time, with contiguous inner loops. One input channel's taps are summed in
// int32 first when that cannot overflow (8- and 4-bit operands: |x - zp| < 512, |w| <= 128).
uint64_t conv(const IConv& c, const RequantSpec& rq, const IntValue& x, IntValue& y) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OC = y.shape[1], OH = y.shape[2], OW = y.shape[3], KH = c.kernel[0], KW = c.kernel[1];
  const int64_t icg = C / c.groups, ocg = OC / c.groups;
  y.data.assign(idx(num_elements(y.shape)), 0);
  // Output columns [lo, hi) whose tap kx reads a real column (padding holds in_zp: contributes 0).
  std::vector<std::pair<int64_t, int64_t>> cols(idx(KW));
  for (int64_t kx = 0; kx < KW; ++kx) {
    const int64_t off = kx * c.dilation[1] - c.pads[1];  // ix = ox * stride + off
    int64_t lo = 0, hi = OW;
    while (lo < OW && lo * c.stride[1] + off < 0) ++lo;
    while (hi > lo && (hi - 1) * c.stride[1] + off >= W) --hi;
    cols[idx(kx)] = {lo, hi};
  }
  int32_t x_lo = INT32_MAX, x_hi = INT32_MIN;
  for (const int32_t v : x.data) x_lo = std::min(x_lo, v), x_hi = std::max(x_hi, v);
  const int64_t max_dx = std::max(std::abs(int64_t{x_lo} - c.in_zp), std::abs(int64_t{x_hi} - c.in_zp));
  const bool int32_taps = max_dx * 128 * KH * KW <= INT32_MAX;
  std::vector<int64_t> acc(idx(OH * OW));
  std::vector<int32_t> part(idx(OH * OW));
  // Adds input channel ci's taps (plane: its H x W values) into `out`.
  auto taps = [&](auto* out, const int32_t* plane, int64_t o, int64_t ci) {
    using Acc = std::remove_pointer_t<decltype(out)>;
    const auto zp = static_cast<Acc>(c.in_zp);
    for (int64_t ky = 0; ky < KH; ++ky)
      for (int64_t kx = 0; kx < KW; ++kx) {
        const Acc wv = c.weight[idx(((o * icg + ci) * KH + ky) * KW + kx)];
        const auto [lo, hi] = cols[idx(kx)];
        const int64_t off = kx * c.dilation[1] - c.pads[1];
        for (int64_t oy = 0; oy < OH; ++oy) {
          const int64_t iy = oy * c.stride[0] - c.pads[0] + ky * c.dilation[0];
          if (iy < 0 || iy >= H) continue;
          const int32_t* row = plane + iy * W;
          auto* dst = out + oy * OW;
          for (int64_t ox = lo; ox < hi; ++ox) dst[ox] += (Acc{row[ox * c.stride[1] + off]} - zp) * wv;
        }
      }
  };
  uint64_t overflows = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < OC; ++o) {
      const int64_t first_ic = (o / ocg) * icg;
      std::fill(acc.begin(), acc.end(), c.bias.empty() ? 0 : c.bias[idx(o)]);
      for (int64_t ci = 0; ci < icg; ++ci) {
        const int32_t* plane = x.data.data() + idx((n * C + first_ic + ci) * H * W);
        if (!int32_taps) {
          taps(acc.data(), plane, o, ci);
          continue;
        }
        std::fill(part.begin(), part.end(), 0);
        taps(part.data(), plane, o, ci);
        for (size_t i = 0; i < part.size(); ++i) acc[i] += part[i];
      }
      int32_t* out = y.data.data() + idx((n * OC + o) * OH * OW);
      for (int64_t i = 0; i < OH * OW; ++i) out[i] = apply(rq, saturate_counted(acc[idx(i)], overflows), o);
    }
  return overflows;
}

uint64_t matmul(const IMatmul& m, const RequantSpec& rq, const IntValue& x, IntValue& y) {
  const int64_t K = x.shape.back(), cols = y.shape.back(), rows = num_elements(x.shape) / K;
  y.data.assign(idx(rows * cols), 0);
  uint64_t overflows = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      int64_t acc = m.bias.empty() ? 0 : m.bias[idx(j)];
      for (int64_t k = 0; k < K; ++k)
        acc += (int64_t{x.data[idx(r * K + k)]} - m.in_zp) * m.weight[idx(j * K + k)];
      y.data[idx(r * cols + j)] = apply(rq, saturate_counted(acc, overflows), j);
    }
  return overflows;
}

uint64_t pool(const IPool& p, const RequantSpec& rq, const IntValue& x, IntValue& y) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], OH = y.shape[2],
                OW = y.shape[3];
  y.data.assign(idx(num_elements(y.shape)), 0);
  uint64_t overflows = 0;
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        const int64_t y0 = oy * p.stride[0] - p.pads[0], x0 = ox * p.stride[1] - p.pads[1];
        int64_t max = INT64_MIN, sum = 0, real = 0;
        for (int64_t iy = std::max<int64_t>(y0, 0); iy < std::min(y0 + p.kernel[0], H); ++iy)
          for (int64_t ix = std::max<int64_t>(x0, 0); ix < std::min(x0 + p.kernel[1], W); ++ix) {
            const int64_t v = x.data[idx((nc * H + iy) * W + ix)] - p.in_zp;
            max = std::max(max, v);
            sum += v;
            ++real;
          }
        // Average: padding counts as zero (centred) when count_pad, else only real pixels count.
        const int64_t count = p.count_pad ? p.kernel[0] * p.kernel[1] : real;
        const int64_t acc = p.mode == PoolMode::Max ? max : rounding_div(sum, count);
        y.data[idx((nc * OH + oy) * OW + ox)] = apply(rq, saturate_counted(acc, overflows), nc % C);
      }
  return overflows;
}

namespace {

// Element i of the output read from an eltwise input: the same element, or, for an input of shape
// [N, C, 1, 1] / [N, C] broadcast over the output [N, C, H, W], element (n, c).
struct EltInput {
  const IntValue& v;
  bool broadcast = false;
  int64_t C = 1, H = 1, W = 1;
  EltInput(const IntValue& x, const Shape& out, const char* which) : v(x) {
    if (x.shape == out) return;
    const bool nc = out.size() == 4 &&
                    ((x.shape.size() == 4 && x.shape[2] == 1 && x.shape[3] == 1) || x.shape.size() == 2) &&
                    x.shape[0] == out[0] && x.shape[1] == out[1];
    if (!nc)
      throw Error(fmt::format("eltwise: input {} has shape {}, neither the output's {} nor [N, C, 1, 1]",
                              which, shape_str(x.shape), shape_str(out)));
    broadcast = true, C = out[1], H = out[2], W = out[3];
  }
  int32_t operator[](int64_t i) const {
    if (!broadcast) return v.data[idx(i)];
    const int64_t n = i / (C * H * W), c = i / (H * W) % C;
    return v.data[idx(n * C + c)];
  }
};

}  // namespace

uint64_t eltwise(const IEltwise& e, const RequantSpec& rq, const IntValue& a_in, const IntValue& b_in,
                 IntValue& y) {
  const int64_t total = num_elements(y.shape);
  const ChannelOf channel(y.shape);
  const EltInput a(a_in, y.shape, "a"), b(b_in, y.shape, "b");
  if (a.broadcast && b.broadcast) throw Error("eltwise: only one input may be broadcast");
  y.data.assign(idx(total), 0);
  uint64_t overflows = 0;
  for (int64_t i = 0; i < total; ++i) {
    const int64_t ra = round_shift((int64_t{a[i]} - e.a_zp) * e.a_rescale.m0, e.a_rescale.shift);
    const int64_t rb = round_shift((int64_t{b[i]} - e.b_zp) * e.b_rescale.m0, e.b_rescale.shift);
    const int64_t av = saturate_counted(ra, overflows), bv = saturate_counted(rb, overflows);
    int32_t acc = 0;
    switch (e.op) {
      case EltOp::Add: acc = saturate_counted(av + bv, overflows); break;
      case EltOp::Mul: acc = saturate_counted(av * bv, overflows); break;
      case EltOp::Max: acc = static_cast<int32_t>(std::max(av, bv)); break;
    }
    y.data[idx(i)] = apply(rq, acc, channel(i));
  }
  return overflows;
}

uint64_t requant(const IRequant& r, const RequantSpec& rq, const IntValue& x, IntValue& y) {
  const int64_t total = num_elements(y.shape);
  const ChannelOf channel(y.shape);
  y.data.assign(idx(total), 0);
  uint64_t overflows = 0;
  for (int64_t i = 0; i < total; ++i)
    y.data[idx(i)] = apply(rq, saturate_counted(int64_t{x.data[idx(i)]} - r.in_zp, overflows), channel(i));
  return overflows;
}

void lut(const ILut& l, const IntValue& x, IntValue& y) {
  const DTypeTraits &in = traits(x.dtype), &out = traits(y.dtype);
  if (in.bits > 8 || l.table.size() != size_t{1} << in.bits)
    throw Error(
        fmt::format("lut: table has {} entries, a {} input needs 2^bits of them", l.table.size(), in.name));
  for (size_t i = 0; i < l.table.size(); ++i)
    if (l.table[i] < out.qmin || l.table[i] > out.qmax)
      throw Error(fmt::format("lut: table[{}] = {} is outside the output type {}", i, l.table[i], out.name));
  if (x.shape != y.shape) throw Error("lut: input and output shapes differ");
  y.data.assign(x.data.size(), 0);
  for (size_t i = 0; i < x.data.size(); ++i) y.data[i] = l.table[idx(x.data[i] - in.qmin)];
}

void concat(const IConcat& c, const std::vector<const IntValue*>& xs, IntValue& y) {
  const auto axis = static_cast<size_t>(c.axis);
  const int64_t outer = num_elements(Shape(y.shape.begin(), y.shape.begin() + c.axis));
  const int64_t inner = num_elements(Shape(y.shape.begin() + c.axis + 1, y.shape.end()));
  const int64_t out_row = y.shape[axis] * inner;
  y.data.assign(idx(num_elements(y.shape)), 0);
  int64_t at = 0;
  for (const IntValue* x : xs) {
    const int64_t row = x->shape[axis] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::copy_n(x->data.begin() + o * row, row, y.data.begin() + o * out_row + at);
    at += row;
  }
}

void rearrange(const IRearrange& ra, const IntValue& x, IntValue& y) {
  const StridedView& v = ra.view;
  if (y.shape != v.out || y.dtype != x.dtype || y.scale != x.scale || y.zero_point != x.zero_point)
    throw Error(
        fmt::format("rearrange: output {} {} (scale {}, zero point {}) is not the view {} of input {} {} "
                    "(scale {}, zero point {})",
                    name(y.dtype), shape_str(y.shape), y.scale, y.zero_point, shape_str(v.out), name(x.dtype),
                    shape_str(x.shape), x.scale, x.zero_point));
  // The last element the view reads must lie inside x (every stride is >= 0).
  int64_t last = v.offset;
  for (size_t k = 0; k < v.dims.size(); ++k) last += (v.dims[k] - 1) * v.strides[k];
  const int64_t n = num_elements(x.shape);
  if (num_elements(y.shape) > 0 && (v.offset < 0 || last >= n))
    throw Error(
        fmt::format("rearrange: the view reads elements [{}, {}] of an input of {}", v.offset, last, n));
  y.data.assign(idx(num_elements(y.shape)), 0);
  copy_view(v, x.data.data(), y.data.data());
}

void gather(const IGather& gt, const IntValue& x, IntValue& y) {
  if (x.shape.size() < 2 || y.shape.size() != x.shape.size())
    throw Error(fmt::format("gather: input {} and output {} must both be [N, C, ...] of the same rank",
                            shape_str(x.shape), shape_str(y.shape)));
  const auto cout = static_cast<int64_t>(gt.channels.size());
  Shape expect = x.shape;
  expect[1] = cout;
  if (y.shape != expect)
    throw Error(fmt::format("gather: {} channels of input {} make {}, the output is {}", cout,
                            shape_str(x.shape), shape_str(expect), shape_str(y.shape)));
  if (y.dtype != x.dtype || y.scale != x.scale || y.zero_point != x.zero_point)
    throw Error(
        fmt::format("gather: output ({}, scale {}, zero point {}) differs from the input ({}, scale {}, "
                    "zero point {})",
                    name(y.dtype), y.scale, y.zero_point, name(x.dtype), x.scale, x.zero_point));
  const int64_t cin = x.shape[1], inner = num_elements(Shape(x.shape.begin() + 2, x.shape.end()));
  for (int64_t c : gt.channels)
    if (c < 0 || c >= cin) throw Error(fmt::format("gather: channel {} is outside [0, {})", c, cin));
  y.data.assign(idx(num_elements(y.shape)), 0);
  for (int64_t n = 0; n < x.shape[0]; ++n)
    for (int64_t c = 0; c < cout; ++c)
      std::copy_n(x.data.begin() + (n * cin + gt.channels[idx(c)]) * inner, inner,
                  y.data.begin() + (n * cout + c) * inner);
}

}  // namespace tpusim::compiler::int_kernels
