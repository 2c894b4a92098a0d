// isa/semantics: every instruction against the independent references of semantics_ref.h on random
// configurations (fixed seeds). Each random case compares the whole LMEM and DDR images with the
// expected ones, so a stray write anywhere (a neighbouring nibble included) fails. The checker's
// rejections and the bounds checks are in semantics_check_test.cpp; lut and the DMAs in
// semantics_lut_dma_test.cpp.
#include "isa/semantics.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <functional>

#include "base/error.h"
#include "tests/isa/semantics_ref.h"
#include "tests/isa/semantics_run.h"

using namespace tpusim;
using namespace semref;

namespace {

// Requant tail fields of `op`; the per-channel table, if any, is at rq_addr.
template <class Op>
void set_requant(Op& op, const Rq& rq, DType out, uint64_t rq_addr) {
  op.out_dtype = static_cast<int64_t>(out), op.out_zp = rq.zp, op.rq_per_channel = rq.per_channel;
  op.rq = rq.per_channel ? rq_addr : 0;
  op.m0 = rq.per_channel ? 0 : rq.m0[0], op.shift = rq.per_channel ? 0 : rq.shift[0];
  op.clamp_lo = rq.lo, op.clamp_hi = rq.hi;
}
void write_rq(Image& img, const Rq& rq, uint64_t addr, int64_t channels) {
  if (rq.per_channel) write_table(img, addr, DType::Int32, channels, 2, rq_table(rq));
}

}  // namespace

TEST_CASE("window_out") {
  CHECK(window_out(8, 1, 1, 3, 1, 1) == 8);
  CHECK(window_out(7, 0, 0, 3, 2, 2) == 2);
  CHECK(window_out(2, 0, 0, 3, 1, 1) == 0);
  CHECK(window_out(5, 0, 0, 0, 1, 1) == 0);
  for (int64_t in = 1; in < 12; ++in)
    for (int64_t k = 1; k < 5; ++k)
      for (int64_t s = 1; s < 4; ++s)
        for (int64_t d = 1; d < 3; ++d) CHECK(window_out(in, 1, 2, k, s, d) == out_size(in, 1, 2, k, s, d));
}

TEST_CASE("conv2d matches the reference on random configurations") {
  Rng r(0xc0de);
  int64_t overflows_seen = 0;
  for (int iter = 0; iter < 160;) {
    const uint32_t lanes = any_lanes(r);
    const int kind = static_cast<int>(r.uni(0, 2));  // dense, grouped, depthwise
    ops::Conv2d c;
    c.groups = kind == 0 ? 1 : kind == 1 ? r.uni(2, 3) : r.uni(1, 20);
    c.ic = c.groups * (kind == 2 ? 1 : r.uni(1, 4)), c.oc = c.groups * (kind == 2 ? 1 : r.uni(1, 4));
    c.n = r.uni(1, 2), c.ih = r.uni(1, 9), c.iw = r.uni(1, 9), c.kh = r.uni(1, 4), c.kw = r.uni(1, 4);
    c.stride_h = r.uni(1, 3), c.stride_w = r.uni(1, 3);
    c.dil_h = r.coin(0.3) ? r.uni(2, 3) : 1, c.dil_w = r.coin(0.3) ? r.uni(2, 3) : 1;
    c.pad_t = r.uni(0, 3), c.pad_b = r.uni(0, 3), c.pad_l = r.uni(0, 3), c.pad_r = r.uni(0, 3);
    const int64_t oh = out_size(c.ih, c.pad_t, c.pad_b, c.kh, c.stride_h, c.dil_h);
    const int64_t ow = out_size(c.iw, c.pad_l, c.pad_r, c.kw, c.stride_w, c.dil_w);
    if (oh < 1 || ow < 1) continue;
    ++iter;
    const DType in_t = narrow_dtype(r), w_t = r.pick({DType::Int8, DType::Int4}), out_t = any_dtype(r);
    const int64_t icg = c.ic / c.groups, taps = icg * c.kh * c.kw;
    const ConvParams p{c.groups, c.kh,    c.kw,    c.stride_h, c.stride_w, c.dil_h,
                       c.dil_w,  c.pad_t, c.pad_b, c.pad_l,    c.pad_r,    random_zp(r, in_t)};
    const T4 x = random_tensor(r, in_t, c.n, c.ic, c.ih, c.iw),
             w = random_tensor(r, w_t, c.oc, icg, c.kh, c.kw);
    const std::vector<int64_t> bias = r.coin(0.7) ? random_bias(r, c.oc) : std::vector<int64_t>{};
    const Rq rq = random_rq(r, out_t, c.oc, shift_hint(bits(in_t) + bits(w_t) + log2_ceil(taps) / 2, out_t));
    Arena a;
    const Layout in_l = a.compact(r, in_t, c.n, c.ic, c.ih, c.iw, lanes);
    c.weight = a.table(r, w_t, c.oc, taps, lanes);
    c.bias = a.table(r, DType::Int32, c.oc, 1, lanes);
    const uint64_t rq_addr = a.table(r, DType::Int32, c.oc, 2, lanes);
    const Layout out_l = a.compact(r, out_t, c.n, c.oc, oh, ow, lanes);
    Image img = make_image(r, lanes, a.next + r.uni(0, 8), 0);
    write(img, in_l, in_t, x);
    write_table(img, c.weight, w_t, c.oc, taps, w.v);
    if (!bias.empty()) write_table(img, c.bias, DType::Int32, c.oc, 1, bias);
    write_rq(img, rq, rq_addr, c.oc);
    c.src = in_l.addr, c.dst = out_l.addr, c.in_dtype = id(in_t), c.w_dtype = id(w_t), c.in_zp = p.in_zp;
    c.has_bias = !bias.empty();
    set_requant(c, rq, out_t, rq_addr);

    int64_t overflows = 0;
    const T4 ref = conv2d(x, w, bias, p, rq, overflows);
    INFO(fmt::format(
        "lanes {} n {} ic {} oc {} groups {} in {}x{} k {}x{} s {},{} d {},{} pad {},{},{},{} {} {} {}",
        lanes, c.n, c.ic, c.oc, c.groups, c.ih, c.iw, c.kh, c.kw, c.stride_h, c.stride_w, c.dil_h, c.dil_w,
        c.pad_t, c.pad_b, c.pad_l, c.pad_r, name(in_t), name(w_t), name(out_t)));
    const ExecCounters counters = run_and_compare(c.instr(), img, out_l, out_t, ref);
    CHECK(counters.acc_overflows == static_cast<uint64_t>(overflows));
    CHECK(counters.macs == static_cast<uint64_t>(c.n * c.oc * oh * ow * taps));
    CHECK(counters.lmem_written == packed_bytes(out_t, ref.v.size()));
    CHECK(counters.lmem_read == packed_bytes(in_t, x.v.size()) + packed_bytes(w_t, w.v.size()) +
                                    4 * bias.size() + (rq.per_channel ? 8 * c.oc : 0));
    overflows_seen += overflows;
  }
  CHECK(overflows_seen > 0);
}

TEST_CASE("matmul matches the reference on random configurations") {
  Rng r(0x3a73);
  int64_t overflows_seen = 0;
  for (int iter = 0; iter < 120; ++iter) {
    const uint32_t lanes = any_lanes(r);
    ops::Matmul mm;
    mm.m = r.uni(1, 5), mm.k = r.uni(1, 40), mm.n = r.uni(1, 40);
    const DType in_t = narrow_dtype(r), w_t = r.pick({DType::Int8, DType::Int4}), out_t = any_dtype(r);
    mm.in_zp = random_zp(r, in_t);
    const T4 x = random_tensor(r, in_t, mm.m, mm.k, 1, 1), w = random_tensor(r, w_t, mm.n, mm.k, 1, 1);
    const std::vector<int64_t> bias = r.coin(0.7) ? random_bias(r, mm.n) : std::vector<int64_t>{};
    const Rq rq = random_rq(r, out_t, mm.n, shift_hint(bits(in_t) + bits(w_t) + log2_ceil(mm.k) / 2, out_t));
    Arena a;
    const Layout in_l = a.compact(r, in_t, mm.m, mm.k, 1, 1, lanes);
    mm.weight = a.table(r, w_t, mm.n, mm.k, lanes);
    mm.bias = a.table(r, DType::Int32, mm.n, 1, lanes);
    const uint64_t rq_addr = a.table(r, DType::Int32, mm.n, 2, lanes);
    const Layout out_l = a.compact(r, out_t, mm.m, mm.n, 1, 1, lanes);
    Image img = make_image(r, lanes, a.next + r.uni(0, 8), 0);
    write(img, in_l, in_t, x);
    write_table(img, mm.weight, w_t, mm.n, mm.k, w.v);
    if (!bias.empty()) write_table(img, mm.bias, DType::Int32, mm.n, 1, bias);
    write_rq(img, rq, rq_addr, mm.n);
    mm.src = in_l.addr, mm.dst = out_l.addr, mm.in_dtype = id(in_t), mm.w_dtype = id(w_t),
    mm.has_bias = !bias.empty();
    set_requant(mm, rq, out_t, rq_addr);

    int64_t overflows = 0;
    const T4 ref = matmul(x, w, bias, mm.in_zp, rq, overflows);
    INFO(fmt::format("lanes {} m {} k {} n {} {} {} {}", lanes, mm.m, mm.k, mm.n, name(in_t), name(w_t),
                     name(out_t)));
    const ExecCounters counters = run_and_compare(mm.instr(), img, out_l, out_t, ref);
    CHECK(counters.acc_overflows == static_cast<uint64_t>(overflows));
    CHECK(counters.macs == static_cast<uint64_t>(mm.m * mm.n * mm.k));
    overflows_seen += overflows;
  }
  CHECK(overflows_seen > 0);
}

TEST_CASE("pool matches the reference on random configurations") {
  Rng r(0x9001);
  int valid = 0, rejected = 0;
  while (valid < 160) {
    const uint32_t lanes = any_lanes(r);
    ops::Pool p;
    p.mode = r.uni(0, 1), p.count_pad = r.uni(0, 1);
    p.n = r.uni(1, 2), p.c = r.uni(1, 20), p.ih = r.uni(1, 9), p.iw = r.uni(1, 9), p.kh = r.uni(1, 4),
    p.kw = r.uni(1, 4);
    p.stride_h = r.uni(1, 3), p.stride_w = r.uni(1, 3);
    p.pad_t = r.uni(0, p.kh), p.pad_b = r.uni(0, p.kh), p.pad_l = r.uni(0, p.kw), p.pad_r = r.uni(0, p.kw);
    const int64_t oh = out_size(p.ih, p.pad_t, p.pad_b, p.kh, p.stride_h, 1);
    const int64_t ow = out_size(p.iw, p.pad_l, p.pad_r, p.kw, p.stride_w, 1);
    if (oh < 1 || ow < 1) continue;
    const DType in_t = narrow_dtype(r), out_t = any_dtype(r);
    p.in_zp = random_zp(r, in_t);
    const PoolParams pp{p.mode == 1, p.count_pad == 1, p.kh,    p.kw,    p.stride_h, p.stride_w,
                        p.pad_t,     p.pad_b,          p.pad_l, p.pad_r, p.in_zp};
    const T4 x = random_tensor(r, in_t, p.n, p.c, p.ih, p.iw);
    const Rq rq = random_rq(r, out_t, p.c, shift_hint(bits(in_t), out_t));
    Arena a;
    const Layout in_l = a.compact(r, in_t, p.n, p.c, p.ih, p.iw, lanes);
    const uint64_t rq_addr = a.table(r, DType::Int32, p.c, 2, lanes);
    const Layout out_l = a.compact(r, out_t, p.n, p.c, oh, ow, lanes);
    Image img = make_image(r, lanes, a.next + r.uni(0, 8), 0);
    write(img, in_l, in_t, x);
    write_rq(img, rq, rq_addr, p.c);
    p.src = in_l.addr, p.dst = out_l.addr, p.in_dtype = id(in_t);
    set_requant(p, rq, out_t, rq_addr);

    int64_t overflows = 0;
    const std::optional<T4> ref = pool(x, pp, rq, overflows);
    INFO(fmt::format("lanes {} n {} c {} in {}x{} k {}x{} s {},{} pad {},{},{},{} avg {} count_pad {} {} {}",
                     lanes, p.n, p.c, p.ih, p.iw, p.kh, p.kw, p.stride_h, p.stride_w, p.pad_t, p.pad_b,
                     p.pad_l, p.pad_r, p.mode, p.count_pad, name(in_t), name(out_t)));
    if (!ref) {  // some window lies entirely in the padding
      CHECK_THAT(check(p.instr(), geometry(img)), Catch::Contains("window has no element inside the input"));
      ++rejected;
      continue;
    }
    CHECK(run_and_compare(p.instr(), img, out_l, out_t, *ref).acc_overflows == 0);
    ++valid;
  }
  CHECK(rejected > 0);
}

TEST_CASE("eltwise matches the reference on random configurations, in place included") {
  Rng r(0xe17);
  int64_t overflows_seen = 0;
  for (int iter = 0; iter < 200; ++iter) {
    const uint32_t lanes = any_lanes(r);
    ops::Eltwise e;
    e.op = r.uni(0, 2), e.n = r.uni(1, 2), e.c = r.uni(1, 20), e.h = r.uni(1, 5), e.w = r.uni(1, 5);
    const DType a_t = any_dtype(r), b_t = any_dtype(r), out_t = any_dtype(r);
    EltParams p{static_cast<int>(e.op), random_zp(r, a_t), r.uni(1 << 30, INT32_MAX),
                r.uni(27, 33),          random_zp(r, b_t), r.uni(1 << 30, INT32_MAX),
                r.uni(27, 33)};
    if (r.coin(0.1)) p.a_shift = r.pick<int64_t>({0, 62, 63}), p.a_m0 = r.uni(1, INT32_MAX);
    if (r.coin(0.1)) p.b_shift = r.pick<int64_t>({0, 62, 63}), p.b_m0 = r.uni(1, INT32_MAX);
    const T4 x = random_tensor(r, a_t, e.n, e.c, e.h, e.w), y = random_tensor(r, b_t, e.n, e.c, e.h, e.w);
    const Rq rq = random_rq(r, out_t, e.c, shift_hint(e.op == 1 ? 16 : 9, out_t));
    Arena a;
    const Layout a_l = a.compact(r, a_t, e.n, e.c, e.h, e.w, lanes),
                 b_l = a.compact(r, b_t, e.n, e.c, e.h, e.w, lanes);
    const uint64_t rq_addr = a.table(r, DType::Int32, e.c, 2, lanes);
    Layout out_l = a.compact(r, out_t, e.n, e.c, e.h, e.w, lanes);
    if (bits(out_t) == bits(a_t) && r.coin(0.3)) out_l = a_l;  // in place
    Image img = make_image(r, lanes, a.next + r.uni(0, 8), 0);
    write(img, a_l, a_t, x);
    write(img, b_l, b_t, y);
    write_rq(img, rq, rq_addr, e.c);
    e.a = a_l.addr, e.b = b_l.addr, e.dst = out_l.addr;
    e.a_dtype = id(a_t), e.a_zp = p.a_zp, e.a_m0 = p.a_m0, e.a_shift = p.a_shift;
    e.b_dtype = id(b_t), e.b_zp = p.b_zp, e.b_m0 = p.b_m0, e.b_shift = p.b_shift;
    set_requant(e, rq, out_t, rq_addr);

    int64_t overflows = 0;
    const T4 ref = eltwise(x, y, p, rq, overflows);
    INFO(fmt::format("lanes {} op {} shape {}x{}x{}x{} {} {} {} in place {}", lanes, e.op, e.n, e.c, e.h, e.w,
                     name(a_t), name(b_t), name(out_t), e.dst == e.a));
    CHECK(run_and_compare(e.instr(), img, out_l, out_t, ref).acc_overflows ==
          static_cast<uint64_t>(overflows));
    overflows_seen += overflows;
  }
  CHECK(overflows_seen > 0);
}

TEST_CASE("eltwise rescale at shift 63 is exact for products beyond 2^62") {
  // (INT32_MAX + 1000) * INT32_MAX > 2^62: floor((x + 2^62) / 2^63) = 1; the negative extreme gives -1.
  for (const auto& [a, zp, want] :
       {std::tuple{INT32_MAX, -1000, 1}, {INT32_MIN, 1000, -1}, {1 << 30, 0, 0}}) {
    Rng r(1);
    Image img = make_image(r, 1, 64, 0);
    const ops::Eltwise e{.dst = 32,
                         .a = 0,
                         .b = 16,
                         .op = 0,
                         .n = 1,
                         .c = 1,
                         .h = 1,
                         .w = 1,
                         .a_dtype = id(DType::Int32),
                         .a_zp = zp,
                         .a_m0 = INT32_MAX,
                         .a_shift = 63,
                         .b_dtype = id(DType::Int32),
                         .b_m0 = 1 << 30,
                         .b_shift = 30,
                         .out_dtype = id(DType::Int32),
                         .m0 = 1 << 30,
                         .shift = 30,
                         .clamp_lo = INT32_MIN,
                         .clamp_hi = INT32_MAX};
    write_table(img, 0, DType::Int32, 1, 1, {a});
    write_table(img, 16, DType::Int32, 1, 1, {5});
    run(e.instr(), img);
    CHECK(read(img, compact_layout(32, 1, 1, 1, 1), DType::Int32, 1, 1, 1, 1).v[0] == want + 5);
  }
}

TEST_CASE("requant matches the reference on random configurations") {
  Rng r(0x5eed);
  for (int iter = 0; iter < 120; ++iter) {
    const uint32_t lanes = any_lanes(r);
    ops::Requant q;
    q.n = r.uni(1, 2), q.c = r.uni(1, 20), q.h = r.uni(1, 5), q.w = r.uni(1, 5);
    const DType in_t = any_dtype(r), out_t = any_dtype(r);
    q.in_zp = random_zp(r, in_t);
    const T4 x = random_tensor(r, in_t, q.n, q.c, q.h, q.w);
    const Rq rq = random_rq(r, out_t, q.c, shift_hint(in_t == DType::Int32 ? 12 : bits(in_t), out_t));
    Arena a;
    const Layout in_l = a.compact(r, in_t, q.n, q.c, q.h, q.w, lanes);
    const uint64_t rq_addr = a.table(r, DType::Int32, q.c, 2, lanes);
    Layout out_l = a.compact(r, out_t, q.n, q.c, q.h, q.w, lanes);
    if (bits(out_t) == bits(in_t) && r.coin(0.3)) out_l = in_l;  // in place
    Image img = make_image(r, lanes, a.next + r.uni(0, 8), 0);
    write(img, in_l, in_t, x);
    write_rq(img, rq, rq_addr, q.c);
    q.src = in_l.addr, q.dst = out_l.addr, q.in_dtype = id(in_t);
    set_requant(q, rq, out_t, rq_addr);

    int64_t overflows = 0;
    const T4 ref = requant_op(x, q.in_zp, rq, overflows);
    INFO(fmt::format("lanes {} shape {}x{}x{}x{} {} {}", lanes, q.n, q.c, q.h, q.w, name(in_t), name(out_t)));
    CHECK(run_and_compare(q.instr(), img, out_l, out_t, ref).acc_overflows ==
          static_cast<uint64_t>(overflows));
  }
}

TEST_CASE("conv2d saturates the int32 accumulator once, after the bias") {
  // 1x1 conv, input 127 * weight 127 = 16129 on top of a bias of INT32_MAX - 100: saturates.
  Rng r(2);
  Image img = make_image(r, 1, 64, 0);
  const ops::Conv2d c{.dst = 32,
                      .src = 0,
                      .weight = 4,
                      .bias = 8,
                      .n = 1,
                      .ic = 1,
                      .ih = 1,
                      .iw = 1,
                      .oc = 1,
                      .kh = 1,
                      .kw = 1,
                      .stride_h = 1,
                      .stride_w = 1,
                      .dil_h = 1,
                      .dil_w = 1,
                      .groups = 1,
                      .has_bias = 1,
                      .out_dtype = id(DType::Int32),
                      .m0 = 1 << 30,
                      .shift = 30,
                      .clamp_lo = INT32_MIN,
                      .clamp_hi = INT32_MAX};
  img.lmem[0] = 127, img.lmem[4] = 127;
  write_table(img, 8, DType::Int32, 1, 1, {INT32_MAX - 100});
  const ExecCounters counters = run(c.instr(), img);
  CHECK(read(img, compact_layout(32, 1, 1, 1, 1), DType::Int32, 1, 1, 1, 1).v[0] == INT32_MAX);
  CHECK(counters.acc_overflows == 1);
  CHECK(counters.macs == 1);
}
