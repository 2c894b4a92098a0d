// Naive references and layout helpers; see semantics_ref.h. Deliberately written differently from
// the kernels: padding is materialised as in_zp, windows are scanned in full, rounding uses
// 128-bit arithmetic, and memory is addressed element by element from the layout formula.
#include "tests/isa/semantics_ref.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/int_math.h"
#include "isa/numerics.h"

namespace semref {

using tpusim::ceil_div;  // unsigned here: the layout formulas count bytes and elements

namespace {

// Base pointer and element index of element (n, c, h, w).
struct Where {
  uint64_t byte_base;  // offset in the lmem or ddr image
  uint64_t index;
};
Where where(const Image& img, const Layout& l, int64_t n, int64_t c, int64_t h, int64_t w) {
  if (!l.local) return {l.addr, n * l.sn + c * l.sc + h * l.sh + w * l.sw};
  const uint64_t lane = c % img.lanes, cc = c / img.lanes;
  return {lane * img.lane_bytes + l.addr, n * l.sn + cc * l.sc + h * l.sh + w * l.sw};
}

}  // namespace

Layout compact_layout(uint64_t addr, int64_t c, int64_t h, int64_t w, uint32_t lanes) {
  const uint64_t hw = h * w;
  return Layout{true, addr, ceil_div(static_cast<uint64_t>(c), lanes) * hw, hw, static_cast<uint64_t>(w), 1};
}

uint64_t compact_lane_bytes(DType t, int64_t n, int64_t c, int64_t h, int64_t w, uint32_t lanes) {
  return ceil_div(n * ceil_div(static_cast<uint64_t>(c), lanes) * h * w * tpusim::bits(t), 8);
}

void write(Image& img, const Layout& l, DType t, const T4& x) {
  std::vector<uint8_t>& mem = l.local ? img.lmem : img.ddr;
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t h = 0; h < x.h; ++h)
        for (int64_t w = 0; w < x.w; ++w) {
          const Where p = where(img, l, n, c, h, w);
          tpusim::store_elem(mem.data() + p.byte_base, p.index, t, static_cast<int32_t>(x.at(n, c, h, w)));
        }
}

T4 read(const Image& img, const Layout& l, DType t, int64_t n_, int64_t c_, int64_t h_, int64_t w_) {
  const std::vector<uint8_t>& mem = l.local ? img.lmem : img.ddr;
  T4 x(n_, c_, h_, w_);
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t c = 0; c < c_; ++c)
      for (int64_t h = 0; h < h_; ++h)
        for (int64_t w = 0; w < w_; ++w) {
          const Where p = where(img, l, n, c, h, w);
          x.at(n, c, h, w) = tpusim::load_elem(mem.data() + p.byte_base, p.index, t);
        }
  return x;
}

uint64_t table_lane_bytes(DType t, int64_t channels, int64_t entries, uint32_t lanes) {
  return ceil_div(ceil_div(static_cast<uint64_t>(channels), lanes) * entries * tpusim::bits(t), 8);
}

void write_table(Image& img, uint64_t addr, DType t, int64_t channels, int64_t entries,
                 const std::vector<int64_t>& values) {
  for (int64_t o = 0; o < channels; ++o) {
    uint8_t* lane = img.lmem.data() + (o % img.lanes) * uint64_t{img.lane_bytes} + addr;
    for (int64_t i = 0; i < entries; ++i)
      tpusim::store_elem(lane, (o / img.lanes) * entries + i, t,
                         static_cast<int32_t>(values[o * entries + i]));
  }
}

int64_t Rq::apply(int64_t acc32, int64_t channel) const {
  const size_t i = per_channel ? channel : 0;
  return tpusim::requant(static_cast<int32_t>(acc32), m0[i], shift[i], zp, lo, hi);
}

int64_t sat32(int64_t v, int64_t& overflows) {
  const int64_t s = std::clamp<int64_t>(v, INT32_MIN, INT32_MAX);
  overflows += s != v;
  return s;
}

int64_t out_size(int64_t in, int64_t pad_a, int64_t pad_b, int64_t k, int64_t stride, int64_t dil) {
  // Count the window positions that fit, one by one.
  int64_t count = 0;
  for (int64_t start = 0; start + dil * (k - 1) < in + pad_a + pad_b; start += stride) ++count;
  return count;
}

T4 conv2d(const T4& x, const T4& w, const std::vector<int64_t>& bias, const ConvParams& p, const Rq& rq,
          int64_t& overflows) {
  const int64_t oc = w.n, icg = w.c, ocg = oc / p.groups;
  const int64_t oh = out_size(x.h, p.pad_t, p.pad_b, p.kh, p.stride_h, p.dil_h);
  const int64_t ow = out_size(x.w, p.pad_l, p.pad_r, p.kw, p.stride_w, p.dil_w);
  T4 y(x.n, oc, oh, ow);
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t o = 0; o < oc; ++o)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t acc = 0;
          for (int64_t i = 0; i < icg; ++i)
            for (int64_t ky = 0; ky < p.kh; ++ky)
              for (int64_t kx = 0; kx < p.kw; ++kx) {
                const int64_t iy = oy * p.stride_h - p.pad_t + ky * p.dil_h;
                const int64_t ix = ox * p.stride_w - p.pad_l + kx * p.dil_w;
                const bool inside = iy >= 0 && iy < x.h && ix >= 0 && ix < x.w;
                const int64_t v = inside ? x.at(n, (o / ocg) * icg + i, iy, ix) : p.in_zp;
                acc += (v - p.in_zp) * w.at(o, i, ky, kx);
              }
          if (!bias.empty()) acc += bias[o];
          y.at(n, o, oy, ox) = rq.apply(sat32(acc, overflows), o);
        }
  return y;
}

T4 matmul(const T4& x, const T4& w, const std::vector<int64_t>& bias, int64_t in_zp, const Rq& rq,
          int64_t& overflows) {
  T4 y(x.n, w.n, 1, 1);
  for (int64_t i = 0; i < x.n; ++i)
    for (int64_t j = 0; j < w.n; ++j) {
      int64_t acc = bias.empty() ? 0 : bias[j];
      for (int64_t k = 0; k < x.c; ++k) acc += (x.at(i, k, 0, 0) - in_zp) * w.at(j, k, 0, 0);
      y.at(i, j, 0, 0) = rq.apply(sat32(acc, overflows), j);
    }
  return y;
}

std::optional<T4> pool(const T4& x, const PoolParams& p, const Rq& rq, int64_t& overflows) {
  const int64_t oh = out_size(x.h, p.pad_t, p.pad_b, p.kh, p.stride_h, 1);
  const int64_t ow = out_size(x.w, p.pad_l, p.pad_r, p.kw, p.stride_w, 1);
  T4 y(x.n, x.c, oh, ow);
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t sum = 0, inside = 0, best = 0;
          for (int64_t ky = 0; ky < p.kh; ++ky)
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              const int64_t iy = oy * p.stride_h - p.pad_t + ky, ix = ox * p.stride_w - p.pad_l + kx;
              if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
              const int64_t v = x.at(n, c, iy, ix) - p.in_zp;
              best = inside == 0 ? v : std::max(best, v);
              sum += v;
              ++inside;
            }
          if (inside == 0) return std::nullopt;
          int64_t q = best;
          if (p.avg) {  // round half away from zero
            const int64_t count = p.count_pad ? p.kh * p.kw : inside;
            const int64_t mag = (2 * (sum < 0 ? -sum : sum) + count) / (2 * count);
            q = sum < 0 ? -mag : mag;
          }
          y.at(n, c, oy, ox) = rq.apply(sat32(q, overflows), c);
        }
  return y;
}

namespace {
// sat_int32(floor((v * m0 + 2^(shift-1)) / 2^shift)) in 128 bits.
int64_t rescale(int64_t v, int64_t m0, int64_t shift, int64_t& overflows) {
  __int128 x = static_cast<__int128>(v) * m0;
  if (shift > 0) x = (x + (static_cast<__int128>(1) << (shift - 1))) >> shift;
  return sat32(static_cast<int64_t>(x), overflows);
}
}  // namespace

T4 eltwise(const T4& a, const T4& b, const EltParams& p, const Rq& rq, int64_t& overflows) {
  T4 y(a.n, a.c, a.h, a.w);
  for (int64_t n = 0; n < a.n; ++n)
    for (int64_t c = 0; c < a.c; ++c)
      for (int64_t h = 0; h < a.h; ++h)
        for (int64_t w = 0; w < a.w; ++w) {
          const int64_t av = rescale(a.at(n, c, h, w) - p.a_zp, p.a_m0, p.a_shift, overflows);
          const int64_t bv = rescale(b.at(n, c, h, w) - p.b_zp, p.b_m0, p.b_shift, overflows);
          const int64_t acc = p.op == 0   ? sat32(av + bv, overflows)
                              : p.op == 1 ? sat32(av * bv, overflows)
                                          : std::max(av, bv);
          y.at(n, c, h, w) = rq.apply(acc, c);
        }
  return y;
}

T4 requant_op(const T4& x, int64_t in_zp, const Rq& rq, int64_t& overflows) {
  T4 y(x.n, x.c, x.h, x.w);
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t h = 0; h < x.h; ++h)
        for (int64_t w = 0; w < x.w; ++w)
          y.at(n, c, h, w) = rq.apply(sat32(x.at(n, c, h, w) - in_zp, overflows), c);
  return y;
}

T4 lut(const T4& x, DType in, const std::vector<int64_t>& table) {
  const int64_t qmin = tpusim::traits(in).qmin;
  T4 y(x.n, x.c, x.h, x.w);
  for (size_t i = 0; i < x.v.size(); ++i) y.v[i] = table.at(static_cast<size_t>(x.v[i] - qmin));
  return y;
}

namespace {
// floor(sqrt(v)) bit by bit from the top (the machine uses Newton's iteration).
int64_t sqrt_floor(int64_t v) {
  if (v <= 0) return 0;
  int64_t r = 0;
  for (int b = 31; b >= 0; --b) {
    const int64_t t = r + (int64_t{1} << b);
    if (t <= v / t) r = t;
  }
  return r;
}
// a / q rounded half up, for q > 0, through long double-free integer steps: floor(a / q) and the
// remainder compared with q / 2.
int64_t round_half_up(int64_t a, int64_t q) {
  int64_t f = a / q, r = a % q;
  if (r < 0) --f, r += q;  // floor division
  return 2 * r >= q ? f + 1 : f;
}
}  // namespace

T4 softmax(const T4& x, const std::vector<int64_t>& table, const Rq& rq, int64_t& overflows) {
  T4 y(x.n, x.c, x.h, x.w);
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t h = 0; h < x.h; ++h)
      for (int64_t w = 0; w < x.w; ++w) {
        int64_t mx = INT64_MIN, sum = 0;
        for (int64_t c = 0; c < x.c; ++c) mx = std::max(mx, x.at(n, c, h, w));
        std::vector<int64_t> e;
        for (int64_t c = 0; c < x.c; ++c) {
          e.push_back(std::clamp<int64_t>(table.at(static_cast<size_t>(mx - x.at(n, c, h, w))), 0, 1 << 24));
          sum += e.back();
        }
        for (int64_t c = 0; c < x.c; ++c)
          y.at(n, c, h, w) = rq.apply(
              sat32(sum > 0 ? round_half_up(e[static_cast<size_t>(c)] * 65536, sum) : 0, overflows), c);
      }
  return y;
}

T4 layernorm(const T4& x, const std::vector<int64_t>& g, const std::vector<int64_t>& b, int64_t eps,
             const Rq& rq, int64_t& overflows) {
  T4 y(x.n, x.c, x.h, x.w);
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t h = 0; h < x.h; ++h)
      for (int64_t w = 0; w < x.w; ++w) {
        int64_t s1 = 0, s2 = 0;
        for (int64_t c = 0; c < x.c; ++c) s1 += x.at(n, c, h, w), s2 += x.at(n, c, h, w) * x.at(n, c, h, w);
        const int64_t sigma = std::max<int64_t>(1, sqrt_floor(x.c * s2 - s1 * s1 + eps));
        for (int64_t c = 0; c < x.c; ++c) {
          const int64_t d = x.c * x.at(n, c, h, w) - s1;
          const int64_t acc = round_half_up(d * g[static_cast<size_t>(c)], sigma) + b[static_cast<size_t>(c)];
          y.at(n, c, h, w) = rq.apply(sat32(acc, overflows), c);
        }
      }
  return y;
}

// ---- random fixtures ----------------------------------------------------------------------------

namespace {
int64_t qmin(DType t) { return tpusim::traits(t).qmin; }
int64_t qmax(DType t) { return tpusim::traits(t).qmax; }
}  // namespace

DType any_dtype(Rng& r) {
  return r.pick({DType::Int8, DType::UInt8, DType::Int4, DType::UInt4, DType::Int32});
}
DType narrow_dtype(Rng& r) { return r.pick({DType::Int8, DType::UInt8, DType::Int4, DType::UInt4}); }
uint32_t any_lanes(Rng& r) { return r.pick<uint32_t>({1, 3, 8, 16}); }
int64_t random_zp(Rng& r, DType t) {
  return r.uni(std::max<int64_t>(qmin(t), -1000), std::min<int64_t>(qmax(t), 1000));
}

T4 random_tensor(Rng& r, DType t, int64_t n, int64_t c, int64_t h, int64_t w) {
  T4 x(n, c, h, w);
  const bool moderate = t == DType::Int32 && r.coin(0.7);
  for (int64_t& v : x.v) v = moderate ? r.uni(-3000, 3000) : r.uni(qmin(t), qmax(t));
  return x;
}

std::vector<int64_t> random_bias(Rng& r, int64_t channels) {
  std::vector<int64_t> b(channels);
  for (int64_t& v : b)
    v = !r.coin(0.15) ? r.uni(-(1 << 16), 1 << 16)
        : r.coin()    ? INT32_MAX - r.uni(0, 1 << 12)
                      : INT32_MIN + r.uni(0, 1 << 12);
  return b;
}

Rq random_rq(Rng& r, DType out, int64_t channels, int hint) {
  Rq rq;
  rq.per_channel = r.coin();
  for (int64_t i = 0; i < (rq.per_channel ? channels : 1); ++i) {
    rq.m0.push_back(static_cast<int32_t>(r.coin(0.9) ? r.uni(1 << 30, INT32_MAX) : r.uni(1, INT32_MAX)));
    const int64_t shift =
        r.coin(0.05) ? r.pick<int64_t>({0, 63}) : std::clamp<int64_t>(hint + r.uni(-3, 3), 0, 63);
    rq.shift.push_back(static_cast<int32_t>(shift));
  }
  rq.zp = static_cast<int32_t>(random_zp(r, out));
  const auto lo = static_cast<int32_t>(qmin(out)), hi = static_cast<int32_t>(qmax(out));
  switch (r.uni(0, 2)) {
    case 0: rq.lo = lo, rq.hi = hi; break;
    case 1: rq.lo = rq.zp, rq.hi = hi; break;  // ReLU
    default: rq.lo = static_cast<int32_t>(r.uni(lo, hi)), rq.hi = static_cast<int32_t>(r.uni(rq.lo, hi));
  }
  return rq;
}

int shift_hint(int acc_bits, DType out) { return 30 + acc_bits - std::min(tpusim::bits(out), 16); }

int log2_ceil(int64_t v) {
  int b = 0;
  while ((int64_t{1} << b) < v) ++b;
  return b;
}

std::vector<int64_t> rq_table(const Rq& rq) {
  std::vector<int64_t> t;
  for (size_t i = 0; i < rq.m0.size(); ++i) t.insert(t.end(), {rq.m0[i], rq.shift[i]});
  return t;
}

uint64_t Arena::alloc(Rng& r, uint64_t bytes, DType t) {
  next += r.uni(0, 3);
  if (t == DType::Int32) next = (next + 3) / 4 * 4;
  const uint64_t at = next;
  next += bytes;
  return at;
}

Layout Arena::compact(Rng& r, DType t, int64_t n, int64_t c, int64_t h, int64_t w, uint32_t lanes) {
  return compact_layout(alloc(r, compact_lane_bytes(t, n, c, h, w, lanes), t), c, h, w, lanes);
}

uint64_t Arena::table(Rng& r, DType t, int64_t channels, int64_t entries, uint32_t lanes) {
  return alloc(r, table_lane_bytes(t, channels, entries, lanes), t);
}

uint64_t random_layout(Rng& r, Layout& l, int64_t n, int64_t c, int64_t h, int64_t w, uint32_t lanes) {
  const int64_t extent[4] = {n, l.local ? (c + lanes - 1) / lanes : c, h, w};
  uint64_t* stride[4] = {&l.sn, &l.sc, &l.sh, &l.sw};
  int order[4] = {0, 1, 2, 3};
  std::shuffle(order, order + 4, r.g);
  uint64_t span = 1;
  for (int d : order) {
    *stride[d] = span + (r.coin(0.3) ? r.uni(1, 3) : 0);
    span = *stride[d] * extent[d];
  }
  return span;
}

Image make_image(Rng& r, uint32_t lanes, uint64_t lane_bytes, uint64_t ddr_bytes) {
  Image img{lanes, static_cast<uint32_t>(lane_bytes), std::vector<uint8_t>(lanes * lane_bytes),
            std::vector<uint8_t>(ddr_bytes)};
  for (uint8_t& b : img.lmem) b = static_cast<uint8_t>(r.uni(0, 255));
  for (uint8_t& b : img.ddr) b = static_cast<uint8_t>(r.uni(0, 255));
  return img;
}

std::string first_diff(const T4& got, const T4& want) {
  if (got.n != want.n || got.c != want.c || got.h != want.h || got.w != want.w) return "shape differs";
  for (size_t i = 0; i < got.v.size(); ++i)
    if (got.v[i] != want.v[i]) return fmt::format("element {}: got {}, want {}", i, got.v[i], want.v[i]);
  return "";
}

}  // namespace semref
