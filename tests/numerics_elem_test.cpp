// Property tests of the element-level numerics (isa/numerics.h): ONNX QuantizeLinear /
// DequantizeLinear, saturating casts, and the packed element layout, each against a reference
// written here independently (hand-written round-half-to-even, an if-chain clamp, a byte model).
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "failures.h"
#include "isa/numerics.h"

using namespace tpusim;

namespace {
constexpr DType kAllTypes[] = {DType::Int8, DType::UInt8, DType::Int4, DType::UInt4, DType::Int32};
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using tpusim_test::Failures;

int32_t random_in(std::mt19937_64& rng, DType t) {
  const auto span = static_cast<uint64_t>(traits(t).qmax - traits(t).qmin + 1);
  return static_cast<int32_t>(traits(t).qmin + static_cast<int64_t>(rng() % span));
}

int64_t ref_saturate(int64_t v, DType t) {
  if (v < traits(t).qmin) return traits(t).qmin;
  if (v > traits(t).qmax) return traits(t).qmax;
  return v;
}

// ONNX QuantizeLinear written out: the quotient in float (as the ONNX reference computes it),
// rounded half to even by hand from floor(), plus zp, saturated; NaN gives zp.
int64_t ref_quantize(float x, float scale, int32_t zp, DType t) {
  const float q = x / scale;
  if (std::isnan(q)) return ref_saturate(zp, t);
  if (std::fabs(q) >= 0x1p40f) return q > 0 ? traits(t).qmax : traits(t).qmin;  // incl. infinity
  const double fl = std::floor(static_cast<double>(q)), frac = static_cast<double>(q) - fl;
  const bool up = frac > 0.5 || (frac == 0.5 && std::fmod(fl, 2.0) != 0);
  return ref_saturate(static_cast<int64_t>(fl) + (up ? 1 : 0) + zp, t);
}
}  // namespace

TEST_CASE("quantize_linear rounds half to even like ONNX QuantizeLinear", "[numerics]") {
  const std::pair<float, int32_t> ties[] = {{0.5f, 0},   {1.5f, 2},        {2.5f, 2},
                                            {3.5f, 4},   {-0.5f, 0},       {-1.5f, -2},
                                            {-2.5f, -2}, {0.49999997f, 0}, {0.50000006f, 1}};
  for (auto [x, want] : ties) {
    INFO("x = " << x);
    CHECK(quantize_linear(x, 1.0f, 0, DType::Int8) == want);
    CHECK(quantize_linear(x * 0.25f, 0.25f, 0, DType::Int32) == want);
  }
  // The example of the ONNX operator documentation (uint8, scale 2, zero point 128).
  const float xs[] = {0, 2, 3, 1000, -254, -1000};
  const int32_t ys[] = {128, 129, 130, 255, 1, 0};
  for (int i = 0; i < 6; ++i) CHECK(quantize_linear(xs[i], 2.0f, 128, DType::UInt8) == ys[i]);
  // The quotient is rounded to float first, as in ONNX: 12582914 / 3 = 4194304.67 becomes the
  // float 4194304.5, which ties to even (exact arithmetic would give 4194305).
  CHECK(quantize_linear(12582914.0f, 3.0f, 0, DType::Int32) == 4194304);
}

TEST_CASE("quantize_linear saturates, handles zero points and NaN, for every type", "[numerics]") {
  for (DType t : kAllTypes) {
    INFO(name(t));
    const auto lo = static_cast<int32_t>(traits(t).qmin), hi = static_cast<int32_t>(traits(t).qmax);
    const int32_t mid = static_cast<int32_t>((int64_t{lo} + hi) / 2);
    CHECK(quantize_linear(1e30f, 1.0f, 0, t) == hi);
    CHECK(quantize_linear(-1e30f, 1.0f, 0, t) == lo);
    CHECK(quantize_linear(kInf, 0.5f, mid, t) == hi);
    CHECK(quantize_linear(-kInf, 0.5f, mid, t) == lo);
    CHECK(quantize_linear(kNaN, 0.5f, mid, t) == mid);
    CHECK(quantize_linear(0.0f, 0.1f, lo, t) == lo);
    CHECK(quantize_linear(0.0f, 0.1f, hi, t) == hi);
    CHECK(quantize_linear(-0.0f, 0.1f, mid, t) == mid);
    CHECK(quantize_linear(3.0f, 1.0f, hi, t) == hi);  // zp + q saturates, too
    CHECK(quantize_linear(-3.0f, 1.0f, lo, t) == lo);
    if (t != DType::Int32) {
      CHECK(quantize_linear(static_cast<float>(hi) + 0.5f, 1.0f, 0, t) == hi);
      CHECK(quantize_linear(static_cast<float>(lo) - 0.5f, 1.0f, 0, t) == lo);
    }
  }
  CHECK(quantize_linear(0x1p31f, 1.0f, 0, DType::Int32) == INT32_MAX);
  CHECK(quantize_linear(-0x1p31f, 1.0f, 0, DType::Int32) == INT32_MIN);
  CHECK(quantize_linear(2147483520.0f, 1.0f, 1000, DType::Int32) == INT32_MAX);
  CHECK(quantize_linear(0.0f, 0.0f, 5, DType::Int8) == 5);  // 0/0 is NaN: zp, not undefined behaviour
}

TEST_CASE("quantize_linear matches the reference on random inputs", "[numerics]") {
  std::mt19937_64 rng(41);
  std::uniform_real_distribution<double> unit(0, 1);
  Failures f;
  for (DType t : kAllTypes) {
    const int64_t lo = traits(t).qmin, hi = traits(t).qmax;
    for (int i = 0; i < 200'000; ++i) {
      const int32_t zp = random_in(rng, t);
      const uint64_t r = rng();
      float scale = static_cast<float>(std::exp2(unit(rng) * 16 - 12)), x = 0;
      if (r % 4 == 0) {  // an exact tie: (n + 1/2) * 2^k, both exact in float
        scale = std::ldexp(1.0f, static_cast<int>(r >> 8) % 16 - 12);
        x = (static_cast<float>(static_cast<int64_t>(rng() % 600) - 300) + 0.5f) * scale;
      } else if (r % 4 == 1) {
        x = static_cast<float>((unit(rng) * 2 - 1) * 1e12);
      } else {  // around the representable range, including a little beyond it
        const double span = static_cast<double>(std::min<int64_t>(hi - lo, 1 << 20)) + 8;
        x = static_cast<float>((unit(rng) * 2 - 1) * span * scale);
      }
      const int32_t got = quantize_linear(x, scale, zp, t);
      if (got != ref_quantize(x, scale, zp, t))
        f.add("{}: x={:a} scale={:a} zp={}: got {} want {}", name(t), x, scale, zp, got,
              ref_quantize(x, scale, zp, t));
    }
  }
  REQUIRE_NO_FAILURES(f);
}

TEST_CASE("dequantize_linear is (q - zp) * scale and inverts quantize_linear", "[numerics]") {
  CHECK(dequantize_linear(-128, 0.5f, 3) == -65.5f);
  CHECK(dequantize_linear(255, 0.25f, 128) == 31.75f);
  CHECK(dequantize_linear(7, 1.0f, 7) == 0.0f);
  CHECK(dequantize_linear(INT32_MIN, 1.0f, INT32_MAX) == -0x1p32f);  // no int32 overflow in q - zp
  std::mt19937_64 rng(42);
  Failures f;
  for (DType t : kAllTypes) {
    if (t == DType::Int32) continue;  // (q - zp) * scale is not exact in float for large q
    for (int i = 0; i < 500; ++i) {
      const float scale =
          std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000, static_cast<int>(rng() % 30) - 20);
      const auto zp = static_cast<int32_t>(traits(t).qmin + static_cast<int64_t>(rng() % 16));
      for (int64_t q = traits(t).qmin; q <= traits(t).qmax; ++q)
        if (quantize_linear(dequantize_linear(static_cast<int32_t>(q), scale, zp), scale, zp, t) != q)
          f.add("{}: q={} scale={:a} zp={}", name(t), q, scale, zp);
    }
  }
  REQUIRE_NO_FAILURES(f);
}

TEST_CASE("saturate and sat_int32 clamp to each type's range", "[numerics]") {
  std::mt19937_64 rng(51);
  Failures f;
  for (DType t : kAllTypes) {
    const int64_t lo = traits(t).qmin, hi = traits(t).qmax;
    std::vector<int64_t> vs = {INT64_MIN,
                               INT64_MIN + 1,
                               lo - 1,
                               lo,
                               lo + 1,
                               -1,
                               0,
                               1,
                               hi - 1,
                               hi,
                               hi + 1,
                               INT64_MAX,
                               int64_t{INT32_MIN} - 1,
                               int64_t{INT32_MAX} + 1};
    for (int i = 0; i < 100'000; ++i)
      vs.push_back(i % 2 ? static_cast<int64_t>(rng()) : static_cast<int64_t>(rng() % 600) - 300);
    for (int64_t v : vs) {
      if (saturate(v, t) != ref_saturate(v, t)) f.add("saturate({}, {}) = {}", v, name(t), saturate(v, t));
      if (sat_int32(v) != ref_saturate(v, DType::Int32)) f.add("sat_int32({}) = {}", v, sat_int32(v));
    }
  }
  REQUIRE_NO_FAILURES(f);
}

namespace {
// Byte model of the packed layout, with arithmetic instead of masks and shifts.
void model_store(std::vector<uint8_t>& b, uint64_t i, DType t, int32_t v) {
  const auto u = static_cast<uint32_t>(v);  // store keeps the low bits of v
  if (bits(t) == 4) {
    const uint32_t nib = u % 16, byte = b[i / 2];
    b[i / 2] = static_cast<uint8_t>(i % 2 == 0 ? byte / 16 * 16 + nib : byte % 16 + nib * 16);
  } else {
    uint32_t w = u;
    for (uint64_t k = 0; k < static_cast<uint64_t>(bits(t)) / 8; ++k, w /= 256)
      b[i * bits(t) / 8 + k] = static_cast<uint8_t>(w % 256);  // little-endian
  }
}
int32_t model_load(const std::vector<uint8_t>& b, uint64_t i, DType t) {
  int64_t u = 0;
  if (bits(t) == 4)
    u = i % 2 == 0 ? b[i / 2] % 16 : b[i / 2] / 16;
  else
    for (int k = bits(t) / 8 - 1; k >= 0; --k) u = u * 256 + b[i * bits(t) / 8 + static_cast<uint64_t>(k)];
  const int64_t half = int64_t{1} << (bits(t) - 1);
  return static_cast<int32_t>(traits(t).is_signed && u >= half ? u - 2 * half : u);
}
}  // namespace

TEST_CASE("packed element layout: explicit bytes", "[numerics]") {
  uint8_t b[4] = {0xAB, 0, 0, 0};
  store_elem(b, 0, DType::Int4, 5);  // low nibble first; the high nibble is kept
  CHECK(b[0] == 0xA5);
  store_elem(b, 1, DType::Int4, -1);
  CHECK(b[0] == 0xF5);
  CHECK(load_elem(b, 1, DType::Int4) == -1);  // sign-extended
  CHECK(load_elem(b, 1, DType::UInt4) == 15);
  store_elem(b, 0, DType::Int4, 9);  // low bits only: callers saturate first
  CHECK(load_elem(b, 0, DType::Int4) == -7);
  CHECK(pack_nibbles(3, -2) == 0xE3);
  CHECK(unpack_nibble(0xE3, 0, true) == 3);
  CHECK(unpack_nibble(0xE3, 1, true) == -2);
  CHECK(unpack_nibble(0xE3, 1, false) == 14);
  CHECK(unpack_nibble(0x80, 1, true) == -8);
  store_elem(b, 0, DType::Int32, 0x12345678);
  CHECK((b[0] == 0x78 && b[1] == 0x56 && b[2] == 0x34 && b[3] == 0x12));
  store_elem(b, 0, DType::Int32, -2);
  CHECK((b[0] == 0xFE && b[1] == 0xFF && b[2] == 0xFF && b[3] == 0xFF));
  CHECK(load_elem(b, 0, DType::Int32) == -2);
  CHECK(load_elem(b, 0, DType::Int8) == -2);
  CHECK(load_elem(b, 0, DType::UInt8) == 254);
  for (int lo = -8; lo < 16; ++lo)
    for (int hi = -8; hi < 16; ++hi) {
      const uint8_t p = pack_nibbles(lo, hi);
      INFO(lo << ", " << hi);
      REQUIRE(p == (lo & 15) + 16 * (hi & 15));
      REQUIRE(unpack_nibble(p, 0, false) == (lo & 15));
      REQUIRE(unpack_nibble(p, 1, true) == ((hi & 15) >= 8 ? (hi & 15) - 16 : (hi & 15)));
    }
}

TEST_CASE("packed element layout: random stores match the byte model, neighbours intact", "[numerics]") {
  std::mt19937_64 rng(61);
  Failures f;
  for (DType t : kAllTypes)
    for (uint64_t n : {1, 3, 7, 33, 101}) {  // odd lengths: 4-bit buffers end in a padding nibble
      std::vector<uint8_t> buf(packed_bytes(t, n)), model;  // exact size: ASan sees any overrun
      for (auto& byte : buf) byte = static_cast<uint8_t>(rng());
      model = buf;
      for (int op = 0; op < 2000; ++op) {
        const uint64_t i = rng() % n;
        // In range mostly; sometimes any int32, whose low bits are stored.
        const auto v = static_cast<int32_t>(op % 8 ? random_in(rng, t) : static_cast<int32_t>(rng()));
        store_elem(buf.data(), i, t, v);
        model_store(model, i, t, v);
        if (buf != model) f.add("{} n={}: store [{}] = {} changed other bytes", name(t), n, i, v);
        for (uint64_t j = 0; j < n; ++j)
          if (load_elem(buf.data(), j, t) != model_load(model, j, t))
            f.add("{} n={}: load [{}] = {}, want {}", name(t), n, j, load_elem(buf.data(), j, t),
                  model_load(model, j, t));
        if (f.count) break;
      }
    }
  REQUIRE_NO_FAILURES(f);
}
