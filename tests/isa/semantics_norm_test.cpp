// isa/semantics: softmax and layernorm against the independent references of semantics_ref.h
// (hand-computed cases, then random configurations comparing whole LMEM images), and their
// arithmetic against the float functions they stand for.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "tests/isa/semantics_run.h"

using namespace tpusim;
using namespace semref;

namespace {

// The same values in lanes [0, lanes_used) at `addr` (the softmax table layout, as lut's).
void write_replicated(Image& img, uint64_t addr, int64_t lanes_used, const std::vector<int64_t>& table) {
  std::vector<int64_t> all;
  for (int64_t l = 0; l < lanes_used; ++l) all.insert(all.end(), table.begin(), table.end());
  write_table(img, addr, DType::Int32, lanes_used, static_cast<int64_t>(table.size()), all);
}

template <class Op>
void per_tensor(Op& op, DType out, int64_t zp, int64_t m0, int64_t shift) {
  op.out_dtype = id(out), op.out_zp = zp, op.rq_per_channel = 0, op.rq = 0, op.m0 = m0, op.shift = shift;
  op.clamp_lo = traits(out).qmin, op.clamp_hi = traits(out).qmax;
}

// exp(-s * d) in 15 fraction bits: what the compiler puts in the table.
std::vector<int64_t> exp_table(DType in, double s) {
  std::vector<int64_t> t(size_t{1} << bits(in));
  for (size_t d = 0; d < t.size(); ++d) t[d] = std::llround(32768.0 * std::exp(-s * static_cast<double>(d)));
  return t;
}

// One softmax over the c values xs ([1, c, 1, 1] on 3 lanes), uint8 output at scale 1/256
// (acc * 2^-8: M0 = 2^30, shift 38).
std::vector<int64_t> run_softmax(DType in, const std::vector<int64_t>& table,
                                 const std::vector<int64_t>& xs) {
  Rng r(3);
  const uint32_t lanes = 3;
  Image img = make_image(r, lanes, 4096, 0);
  const auto c = static_cast<int64_t>(xs.size());
  T4 x(1, c, 1, 1);
  x.v = xs;
  write(img, compact_layout(0, c, 1, 1, lanes), in, x);
  write_replicated(img, 64, std::min<int64_t>(c, lanes), table);
  ops::Softmax s{.dst = 2048, .src = 0, .table = 64, .n = 1, .c = c, .h = 1, .w = 1, .in_dtype = id(in)};
  per_tensor(s, DType::UInt8, 0, int64_t{1} << 30, 38);
  run(s.instr(), img);
  return read(img, compact_layout(2048, c, 1, 1, lanes), DType::UInt8, 1, c, 1, 1).v;
}

}  // namespace

TEST_CASE("softmax on hand-computed rows") {
  // Equal inputs share 2^16 equally; the output is acc / 256 rounded.
  CHECK(run_softmax(DType::Int8, exp_table(DType::Int8, 0.1), {5, 5}) == std::vector<int64_t>{128, 128});
  CHECK(run_softmax(DType::Int8, exp_table(DType::Int8, 0.1), {-3, -3, -3, -3}) ==
        std::vector<int64_t>{64, 64, 64, 64});
  // A table of 2^15 for d = 0 and 0 elsewhere: a one-hot of the maximum (255: 2^16 saturates).
  std::vector<int64_t> hot(256, 0);
  hot[0] = 1 << 15;
  CHECK(run_softmax(DType::Int8, hot, {1, 9, 3}) == std::vector<int64_t>{0, 255, 0});
  // Entries are clamped to [0, 2^24]: negative ones count as 0, huge ones as 2^24.
  std::vector<int64_t> odd(16, -5);
  odd[0] = int64_t{1} << 30, odd[2] = 1 << 24;
  CHECK(run_softmax(DType::Int4, odd, {7, 5, 0}) == std::vector<int64_t>{128, 128, 0});
}

TEST_CASE("softmax with an exp table approximates the float softmax within an output step") {
  Rng r(0x50f7);
  for (int iter = 0; iter < 40; ++iter) {
    const DType in = r.pick({DType::Int8, DType::UInt8, DType::Int4});
    const double s = r.pick({0.02, 0.1, 0.5});
    const T4 x = random_tensor(r, in, 1, r.uni(2, 40), 1, 1);
    const std::vector<int64_t> got = run_softmax(in, exp_table(in, s), x.v);
    double mx = -1e9, sum = 0;
    for (int64_t q : x.v) mx = std::max(mx, s * static_cast<double>(q));
    for (int64_t q : x.v) sum += std::exp(s * static_cast<double>(q) - mx);
    for (size_t i = 0; i < x.v.size(); ++i) {
      const double p = std::exp(s * static_cast<double>(x.v[i]) - mx) / sum;
      CHECK(std::abs(static_cast<double>(got[i]) - std::min(255.0, p * 256)) <= 1.0);
    }
  }
}

TEST_CASE("layernorm on hand-computed rows") {
  // x = [1, 2, 3, 6] (C = 4): s1 = 12, s2 = 50, C*s2 - s1^2 = 56, sigma = isqrt(56 + 8) = 8;
  // C*x - s1 = [-8, -4, 0, 12]; g = 16, b = 3: acc = round(d * 16 / 8) + 3 = [-13, -5, 3, 27].
  Rng r(5);
  Image img = make_image(r, 2, 1024, 0);
  T4 x(1, 4, 1, 1);
  x.v = {1, 2, 3, 6};
  write(img, compact_layout(0, 4, 1, 1, 2), DType::Int8, x);
  write_table(img, 32, DType::Int32, 4, 2, {16, 3, 16, 3, 16, 3, 16, 3});
  ops::Layernorm l{
      .dst = 512, .src = 0, .params = 32, .n = 1, .c = 4, .h = 1, .w = 1, .in_dtype = id(DType::Int8)};
  l.eps = 8;
  per_tensor(l, DType::Int8, 0, int64_t{1} << 30, 30);  // the identity
  run(l.instr(), img);
  CHECK(read(img, compact_layout(512, 4, 1, 1, 2), DType::Int8, 1, 4, 1, 1).v ==
        std::vector<int64_t>{-13, -5, 3, 27});
  // A constant row has no spread: sigma = max(1, isqrt(eps)) and every output is b.
  x.v = {7, 7, 7, 7};
  write(img, compact_layout(0, 4, 1, 1, 2), DType::Int8, x);
  l.eps = 0;
  run(l.instr(), img);
  CHECK(read(img, compact_layout(512, 4, 1, 1, 2), DType::Int8, 1, 4, 1, 1).v ==
        std::vector<int64_t>{3, 3, 3, 3});
}

TEST_CASE("softmax and layernorm match the references on random configurations") {
  Rng r(0x50ff);
  for (int iter = 0; iter < 200; ++iter) {
    const uint32_t lanes = any_lanes(r);
    const bool is_softmax = r.coin();
    const int64_t n = r.uni(1, 2), c = r.uni(1, 40), h = r.uni(1, 3), w = r.uni(1, 4);
    const DType in_t = narrow_dtype(r), out_t = narrow_dtype(r);
    const T4 x = random_tensor(r, in_t, n, c, h, w);
    Rq rq = random_rq(r, out_t, 1, is_softmax ? shift_hint(16, out_t) : shift_hint(20, out_t));
    rq.per_channel = false;  // one multiplier (the instructions take no rq table)
    Arena a;
    const Layout in_l = a.compact(r, in_t, n, c, h, w, lanes);
    Image img;
    T4 want;
    int64_t overflows = 0;
    Instr instr;
    const Layout out_l = [&] {
      if (is_softmax) {
        const int64_t entries = int64_t{1} << bits(in_t), lanes_used = std::min<int64_t>(c, lanes);
        std::vector<int64_t> table = exp_table(in_t, r.pick({0.01, 0.1, 1.0}));
        if (r.coin(0.2)) table = random_tensor(r, DType::Int32, 1, 1, 1, entries).v;  // any bits
        const uint64_t table_addr = a.table(r, DType::Int32, lanes_used, entries, lanes);
        const Layout o = a.compact(r, out_t, n, c, h, w, lanes);
        img = make_image(r, lanes, a.next + r.uni(0, 8), 0);
        write_replicated(img, table_addr, lanes_used, table);
        ops::Softmax s{.dst = int64_t(o.addr),
                       .src = int64_t(in_l.addr),
                       .table = int64_t(table_addr),
                       .n = n,
                       .c = c,
                       .h = h,
                       .w = w,
                       .in_dtype = id(in_t)};
        per_tensor(s, out_t, rq.zp, rq.m0[0], rq.shift[0]);
        s.clamp_lo = rq.lo, s.clamp_hi = rq.hi;
        instr = s.instr();
        want = softmax(x, table, rq, overflows);
        return o;
      }
      std::vector<int64_t> g, b, gb;
      for (int64_t k = 0; k < c; ++k) {
        g.push_back(r.coin(0.1) ? r.uni(INT32_MIN, INT32_MAX) : r.uni(-40000, 40000));
        b.push_back(r.coin(0.1) ? r.uni(INT32_MIN, INT32_MAX) : r.uni(-3000, 3000));
        gb.push_back(g.back()), gb.push_back(b.back());
      }
      const int64_t eps = r.coin(0.2) ? r.uni(0, UINT32_MAX) : r.uni(0, 100);
      const uint64_t params_addr = a.table(r, DType::Int32, c, 2, lanes);
      const Layout o = a.compact(r, out_t, n, c, h, w, lanes);
      img = make_image(r, lanes, a.next + r.uni(0, 8), 0);
      write_table(img, params_addr, DType::Int32, c, 2, gb);
      ops::Layernorm l{.dst = int64_t(o.addr),
                       .src = int64_t(in_l.addr),
                       .params = int64_t(params_addr),
                       .n = n,
                       .c = c,
                       .h = h,
                       .w = w,
                       .in_dtype = id(in_t)};
      l.eps = eps;
      per_tensor(l, out_t, rq.zp, rq.m0[0], rq.shift[0]);
      l.clamp_lo = rq.lo, l.clamp_hi = rq.hi;
      instr = l.instr();
      want = layernorm(x, g, b, eps, rq, overflows);
      return o;
    }();
    write(img, in_l, in_t, x);
    INFO(fmt::format("{} lanes {} shape {}x{}x{}x{} {} -> {}", is_softmax ? "softmax" : "layernorm", lanes, n,
                     c, h, w, name(in_t), name(out_t)));
    REQUIRE(check(instr, geometry(img)) == "");
    const ExecCounters counters = run_and_compare(instr, img, out_l, out_t, want);
    CHECK(counters.acc_overflows == static_cast<uint64_t>(overflows));
  }
}

TEST_CASE("the checker refuses softmax and layernorm outside their rules, naming the field") {
  const Geometry geo{16, 0x8000, 0};
  ops::Softmax s{.dst = 0x4000, .src = 0, .table = 0x2000, .n = 4, .c = 40, .h = 1, .w = 1};
  per_tensor(s, DType::UInt8, 0, int64_t{1} << 30, 38);
  REQUIRE(check(s.instr(), geo) == "");
  auto sm = [&](auto f) {
    ops::Softmax x = s;
    f(x);
    return check(x.instr(), geo);
  };
  CHECK(sm([](ops::Softmax& x) { x.c = 0; }) == "softmax: c 0 must be >= 1");
  CHECK(sm([](ops::Softmax& x) { x.in_dtype = id(DType::Int32); }) ==
        "softmax: in_dtype int32 not allowed (int8, uint8, int4 or uint4)");
  CHECK(sm([](ops::Softmax& x) { x.rq_per_channel = 1; }) ==
        "softmax: rq_per_channel must be 0 (one multiplier for the tensor)");
  CHECK(sm([](ops::Softmax& x) { x.out_zp = 300; }) ==
        "softmax: out_zp 300 outside out_dtype uint8 range [0, 255]");
  CHECK(sm([](ops::Softmax& x) { x.table = 0x2002; }).find("not 4-byte aligned") != std::string::npos);
  CHECK(sm([](ops::Softmax& x) { x.dst = 0; }).find("overlaps") != std::string::npos);  // never in place
  ops::Layernorm l{.dst = 0x4000, .src = 0, .params = 0x2000, .n = 4, .c = 40, .h = 1, .w = 1};
  per_tensor(l, DType::Int8, 0, int64_t{1} << 30, 30);
  REQUIRE(check(l.instr(), geo) == "");
  auto ln = [&](auto f) {
    ops::Layernorm x = l;
    f(x);
    return check(x.instr(), geo);
  };
  CHECK(ln([](ops::Layernorm& x) { x.w = 0; }) == "layernorm: w 0 must be >= 1");
  CHECK(ln([](ops::Layernorm& x) { x.in_dtype = id(DType::Int32); }) ==
        "layernorm: in_dtype int32 not allowed (int8, uint8, int4 or uint4)");
  CHECK(ln([](ops::Layernorm& x) { x.rq_per_channel = 1; }) ==
        "layernorm: rq_per_channel must be 0 (one multiplier for the tensor)");
  CHECK(ln([](ops::Layernorm& x) { x.params = 0x7ffc; }).find("params footprint") != std::string::npos);
  CHECK(ln([](ops::Layernorm& x) { x.src = 0x4000; }).find("overlaps") != std::string::npos);
}
