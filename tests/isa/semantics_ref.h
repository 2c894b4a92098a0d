// Independent references and random fixtures for semantics_test.cpp. Tensors are plain int64
// NCHW vectors; they are placed in LMEM/DDR byte images by this file's own layout code (the
// formulas of isa/isa_table.h, written again), and each instruction has a naive int64 loop-nest
// reference. Nothing here uses isa/semantics*: only load_elem/store_elem and requant from
// isa/numerics.h, which are tested on their own.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "isa/dtype.h"

namespace semref {

using tpusim::DType;

// Dtype field values of instructions.
inline constexpr int64_t kI8 = static_cast<int64_t>(DType::Int8), kU8 = static_cast<int64_t>(DType::UInt8);
inline constexpr int64_t kI4 = static_cast<int64_t>(DType::Int4), kU4 = static_cast<int64_t>(DType::UInt4);
inline constexpr int64_t kI32 = static_cast<int64_t>(DType::Int32);

// An NCHW tensor of int64 values (also used for weights as [oc][ic/groups][kh][kw]).
struct T4 {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<int64_t> v;
  T4() = default;
  T4(int64_t n_, int64_t c_, int64_t h_, int64_t w_) : n(n_), c(c_), h(h_), w(w_), v(n_ * c_ * h_ * w_) {}
  int64_t& at(int64_t i, int64_t j, int64_t y, int64_t x) { return v[((i * c + j) * h + y) * w + x]; }
  int64_t at(int64_t i, int64_t j, int64_t y, int64_t x) const { return v[((i * c + j) * h + y) * w + x]; }
  bool operator==(const T4&) const = default;
};

// LMEM (lanes x lane_bytes) and DDR byte images.
struct Image {
  uint32_t lanes = 1, lane_bytes = 0;
  std::vector<uint8_t> lmem, ddr;
};

// Where a tensor lives: element (n, c, h, w) at element index n*sn + cc*sc + h*sh + w*sw from byte
// addr, cc = c / lanes in lane c % lanes when local, cc = c in DDR.
struct Layout {
  bool local = true;
  uint64_t addr = 0;
  uint64_t sn = 0, sc = 0, sh = 0, sw = 0;
};
Layout compact_layout(uint64_t addr, int64_t c, int64_t h, int64_t w, uint32_t lanes);
// Bytes per lane of a compact local tensor.
uint64_t compact_lane_bytes(DType t, int64_t n, int64_t c, int64_t h, int64_t w, uint32_t lanes);

void write(Image& img, const Layout& l, DType t, const T4& x);
T4 read(const Image& img, const Layout& l, DType t, int64_t n, int64_t c, int64_t h, int64_t w);

// A per-channel table: channel o's `entries` values at element (o / lanes) * entries of lane o % lanes.
// values[o * entries + i]. Returns the bytes per lane.
uint64_t table_lane_bytes(DType t, int64_t channels, int64_t entries, uint32_t lanes);
void write_table(Image& img, uint64_t addr, DType t, int64_t channels, int64_t entries,
                 const std::vector<int64_t>& values);

// Requant parameters; per_channel uses m0[c], shift[c], otherwise entry 0.
struct Rq {
  bool per_channel = false;
  std::vector<int32_t> m0, shift;
  int32_t zp = 0, lo = 0, hi = 0;
  int64_t apply(int64_t acc32, int64_t channel) const;
};

// Saturate to int32, counting saturations.
int64_t sat32(int64_t v, int64_t& overflows);

int64_t out_size(int64_t in, int64_t pad_a, int64_t pad_b, int64_t k, int64_t stride, int64_t dil);

struct ConvParams {
  int64_t groups = 1, kh = 1, kw = 1, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_t = 0, pad_b = 0, pad_l = 0, pad_r = 0, in_zp = 0;
};
// w: [oc][ic/groups][kh][kw]; bias empty when absent.
T4 conv2d(const T4& x, const T4& w, const std::vector<int64_t>& bias, const ConvParams& p, const Rq& rq,
          int64_t& overflows);
// x: [m, k, 1, 1]; w: [n, k, 1, 1] (row j = output column j).
T4 matmul(const T4& x, const T4& w, const std::vector<int64_t>& bias, int64_t in_zp, const Rq& rq,
          int64_t& overflows);

struct PoolParams {
  bool avg = false, count_pad = false;
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_t = 0, pad_b = 0, pad_l = 0, pad_r = 0, in_zp = 0;
};
// nullopt when some window has no element inside the input (an invalid instruction).
std::optional<T4> pool(const T4& x, const PoolParams& p, const Rq& rq, int64_t& overflows);

struct EltParams {
  int op = 0;  // 0 add, 1 mul, 2 max
  int64_t a_zp = 0, a_m0 = 1, a_shift = 0, b_zp = 0, b_m0 = 1, b_shift = 0;
};
T4 eltwise(const T4& a, const T4& b, const EltParams& p, const Rq& rq, int64_t& overflows);

T4 requant_op(const T4& x, int64_t in_zp, const Rq& rq, int64_t& overflows);

// y = table[x - qmin(in)], table.size() = 2^bits(in).
T4 lut(const T4& x, DType in, const std::vector<int64_t>& table);

// Integer softmax over c at each (n, h, w): e = clamp(table[max - x], 0, 2^24),
// acc = round(e * 2^16 / sum e) (half up; 0 when the sum is 0), then rq (per tensor).
T4 softmax(const T4& x, const std::vector<int64_t>& table, const Rq& rq, int64_t& overflows);
// Integer layernorm over c: sigma = max(1, floor(sqrt(C*sum x^2 - (sum x)^2 + eps))),
// acc = sat32(round((C*x - sum x) * g[c] / sigma, half up) + b[c]), then rq (per tensor).
T4 layernorm(const T4& x, const std::vector<int64_t>& g, const std::vector<int64_t>& b, int64_t eps,
             const Rq& rq, int64_t& overflows);

// ---- random fixtures (fixed seeds in the tests) -------------------------------------------------

struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed) : g(seed) {}
  int64_t uni(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); }
  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(g); }
  template <class T>
  T pick(std::initializer_list<T> xs) {
    return xs.begin()[uni(0, static_cast<int64_t>(xs.size()) - 1)];
  }
};

DType any_dtype(Rng& r);
DType narrow_dtype(Rng& r);  // int8, uint8, int4, uint4
uint32_t any_lanes(Rng& r);  // 1, 3, 8 or 16
// A zero point inside the type and the 16-bit zp fields.
int64_t random_zp(Rng& r, DType t);
// Values over the type's range (int32: mostly moderate, sometimes anything).
T4 random_tensor(Rng& r, DType t, int64_t n, int64_t c, int64_t h, int64_t w);
// Int32 bias values, sometimes next to the int32 limits so that accumulators saturate.
std::vector<int64_t> random_bias(Rng& r, int64_t channels);
// Requant tail for `channels` channels: per-tensor or per-channel, shifts around `hint`, clamps
// full, ReLU-like (lo = zp) or random.
Rq random_rq(Rng& r, DType out, int64_t channels, int hint);
// Shift that maps accumulators of about 2^acc_bits onto the output type.
int shift_hint(int acc_bits, DType out);
int log2_ceil(int64_t v);
// The rq table values [(M0, shift) per channel].
std::vector<int64_t> rq_table(const Rq& rq);

// Operands placed one after another in every lane (or in DDR) with random gaps, so that 8- and
// 4-bit operands start at odd offsets; int32 ones are 4-byte aligned.
struct Arena {
  uint64_t next = 0;
  uint64_t alloc(Rng& r, uint64_t bytes, DType t);
  Layout compact(Rng& r, DType t, int64_t n, int64_t c, int64_t h, int64_t w, uint32_t lanes);
  uint64_t table(Rng& r, DType t, int64_t channels, int64_t entries, uint32_t lanes);
};
// A random injective strided layout: dimensions nested in a random order with random gaps. Returns
// the element span.
uint64_t random_layout(Rng& r, Layout& l, int64_t n, int64_t c, int64_t h, int64_t w, uint32_t lanes);
// Images of random bytes.
Image make_image(Rng& r, uint32_t lanes, uint64_t lane_bytes, uint64_t ddr_bytes);
// "" when equal, else the first difference.
std::string first_diff(const T4& got, const T4& want);

}  // namespace semref
