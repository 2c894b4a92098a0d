// The back end on random single layers built directly as IntGraphs (conv with odd sizes, stride,
// padding, dilation, groups/depthwise, int8/int4 weights, 4-bit activations; FC; max/avg pool;
// eltwise, also with a broadcast [N, C, 1, 1] operand; requant; lut), on every preset, and the
// GDMA/TIU overlap of double buffering. Data movement (gathers, rearranges): backend_movement_test.cpp.
#include <catch2/catch.hpp>
#include <cmath>

#include "tests/compiler/backend_helpers.h"

using namespace betest;

namespace {

int64_t out_size(int64_t in, int64_t pa, int64_t pb, int64_t k, int64_t s, int64_t d) {
  return (in + pa + pb - d * (k - 1) - 1) / s + 1;
}

IntGraph random_conv(Rng& r, bool big) {
  const int64_t groups_kind = pick(r, 0, 3);  // 0,1: dense; 2: grouped; 3: depthwise
  int64_t ic = big ? pick(r, 40, 80) : pick(r, 1, 20), oc = big ? pick(r, 40, 96) : pick(r, 1, 24),
          groups = 1;
  if (groups_kind == 2) groups = pick(r, 2, 4), ic = groups * pick(r, 1, 5), oc = groups * pick(r, 1, 6);
  if (groups_kind == 3) groups = ic, oc = ic;
  IConv c;
  c.kernel[0] = pick(r, 1, 5), c.kernel[1] = pick(r, 1, 5);
  c.stride[0] = pick(r, 1, 2), c.stride[1] = pick(r, 1, 2);
  c.dilation[0] = pick(r, 0, 4) == 0 ? 2 : 1, c.dilation[1] = pick(r, 0, 4) == 0 ? 2 : 1;
  for (int i = 0; i < 4; ++i) c.pads[i] = pick(r, 0, (c.kernel[i % 2] - 1));
  const int64_t h = big ? 28 : pick(r, c.kernel[0] * 2 + 1, 17),
                w = big ? 28 : pick(r, c.kernel[1] * 2 + 1, 17);
  c.groups = groups;
  c.w_dtype = pick(r, 0, 2) == 0 ? DType::Int4 : DType::Int8;
  const ITensor x = tensor("x", {1, ic, h, w}, act_type(r), r);
  const int64_t oh = out_size(h, c.pads[0], c.pads[2], c.kernel[0], c.stride[0], c.dilation[0]);
  const int64_t ow = out_size(w, c.pads[1], c.pads[3], c.kernel[1], c.stride[1], c.dilation[1]);
  const ITensor y = tensor("y", {1, oc, oh, ow}, act_type(r), r);
  c.in_zp = x.zero_point;
  const int64_t K = ic / groups * c.kernel[0] * c.kernel[1];
  const int64_t wmax = c.w_dtype == DType::Int4 ? 7 : 127;
  for (int64_t i = 0; i < oc * K; ++i) c.weight.push_back(static_cast<int8_t>(pick(r, -wmax, wmax)));
  c.w_scale.assign(static_cast<size_t>(oc), 0.01f);
  if (pick(r, 0, 3) != 0)
    for (int64_t o = 0; o < oc; ++o) c.bias.push_back(static_cast<int32_t>(pick(r, -5000, 5000)));
  const double span = double(traits(y.dtype).qmax - traits(y.dtype).qmin);
  RequantSpec rq = requant(r, pick(r, 0, 1) ? oc : 1, span / (double(K) * wmax * 40.0), y);
  return one_op({x}, y, c, rq);
}

IntGraph random_pool(Rng& r, bool big) {
  IPool p;
  p.mode = pick(r, 0, 1) ? PoolMode::Avg : PoolMode::Max;
  p.kernel[0] = pick(r, 1, 4), p.kernel[1] = pick(r, 1, 4);
  p.stride[0] = pick(r, 1, 3), p.stride[1] = pick(r, 1, 3);
  for (int i = 0; i < 4; ++i) p.pads[i] = pick(r, 0, p.kernel[i % 2] - 1);
  p.count_pad = pick(r, 0, 1) == 1;
  const int64_t c = big ? 96 : pick(r, 1, 24), h = big ? 28 : pick(r, 5, 19), w = big ? 28 : pick(r, 5, 19);
  const ITensor x = tensor("x", {1, c, h, w}, act_type(r), r);
  const ITensor y = tensor("y",
                           {1, c, out_size(h, p.pads[0], p.pads[2], p.kernel[0], p.stride[0], 1),
                            out_size(w, p.pads[1], p.pads[3], p.kernel[1], p.stride[1], 1)},
                           x.dtype, r);
  p.in_zp = x.zero_point;
  const double ratio = double(traits(y.dtype).qmax - traits(y.dtype).qmin) /
                       double(traits(x.dtype).qmax - traits(x.dtype).qmin);
  return one_op({x}, y, p, requant(r, 1, ratio, y));
}

IntGraph random_fc(Rng& r, bool big) {
  IMatmul m;
  const int64_t rows = pick(r, 1, 6), k = big ? pick(r, 500, 1200) : pick(r, 1, 130),
                n = big ? pick(r, 40, 300) : pick(r, 1, 70);
  m.w_dtype = pick(r, 0, 2) == 0 ? DType::Int4 : DType::Int8;
  const int64_t wmax = m.w_dtype == DType::Int4 ? 7 : 127;
  for (int64_t i = 0; i < n * k; ++i) m.weight.push_back(static_cast<int8_t>(pick(r, -wmax, wmax)));
  m.w_scale.assign(static_cast<size_t>(n), 0.01f);
  if (pick(r, 0, 2) != 0)
    for (int64_t j = 0; j < n; ++j) m.bias.push_back(static_cast<int32_t>(pick(r, -5000, 5000)));
  const ITensor x = tensor("x", {rows, k}, act_type(r), r);
  const ITensor y = tensor("y", {rows, n}, act_type(r), r);
  m.in_zp = x.zero_point;
  const double span = double(traits(y.dtype).qmax - traits(y.dtype).qmin);
  return one_op({x}, y, m, requant(r, pick(r, 0, 1) ? n : 1, span / (double(k) * wmax * 40.0), y));
}

IntGraph random_elementwise(Rng& r, bool big) {
  const Shape s = pick(r, 0, 2) == 0 ? Shape{pick(r, 1, 4), pick(r, 1, 50)}
                                     : Shape{1, big ? 96 : pick(r, 1, 20), big ? 30 : pick(r, 1, 12),
                                             big ? 20 : pick(r, 1, 12)};
  const ITensor a = tensor("a", s, act_type(r), r), y = tensor("y", s, act_type(r), r);
  if (pick(r, 0, 1)) {
    const ITensor b = tensor("b", s, act_type(r), r);
    IEltwise e;
    e.op = static_cast<EltOp>(pick(r, 0, 2));
    e.a_zp = a.zero_point, e.b_zp = b.zero_point;
    e.a_rescale = make_multiplier(0.5 / 64), e.b_rescale = make_multiplier(0.7 / 64);
    return one_op({a, b}, y, e, requant(r, 1, e.op == EltOp::Mul ? 0.05 : 1.0, y));
  }
  IRequant q;
  q.in_zp = a.zero_point;
  return one_op({a}, y, q, requant(r, pick(r, 0, 1) ? s[1] : 1, 0.7, y));
}

}  // namespace

TEST_CASE("back end: random single layers bit-exact on every preset", "[backend]") {
  Rng r(2024);
  int count = 0, conv_fc_pool = 0;
  for (const char* preset : {"edge", "default", "server"}) {
    const Arch& a = arch_preset(preset);
    for (int i = 0; i < 90; ++i) {
      const bool big = i % 5 == 0;
      const int kind = i % 4;
      const IntGraph g = kind == 0   ? random_conv(r, big)
                         : kind == 1 ? random_pool(r, big)
                         : kind == 2 ? random_fc(r, big)
                                     : random_elementwise(r, big);
      INFO(preset << " case " << i << " kind " << kind << " " << kind_name(g.ops[0]) << " in "
                  << shape_str(g.tensors.at(g.inputs[0]).shape) << " out "
                  << shape_str(g.tensors.at("y").shape));
      const BitexactResult res = check_bitexact(g, a, i % 13 == 0, 100 + static_cast<uint32_t>(i));
      if (big && std::string(preset) == "edge") CHECK(res.report.layers[0].tiles >= 1);
      ++count;
      conv_fc_pool += kind < 3;
    }
  }
  CHECK(count == 270);
  CHECK(conv_fc_pool >= 200);  // the floor: 200 random conv/FC/pool configurations
}

TEST_CASE("back end: concat along each axis, large enough to tile on edge", "[backend]") {
  Rng r(31);
  for (const char* preset : {"edge", "server"})
    for (int i = 0; i < 8; ++i) {
      const int64_t axis = 1 + i % 3;
      const bool big = i >= 4;
      Shape base{1 + i % 2, big ? 40 : pick(r, 1, 9), big ? 30 : pick(r, 1, 7), big ? 24 : pick(r, 1, 7)};
      const DType t = i % 4 == 3 ? DType::Int4 : DType::Int8;
      if (t == DType::Int4) base = {1, 8, 6, 4};
      std::vector<ITensor> ins;
      Shape out = base;
      out[static_cast<size_t>(axis)] = 0;
      for (int k = 0; k < 3; ++k) {
        Shape s = base;
        s[static_cast<size_t>(axis)] = t == DType::Int4 ? 2 * pick(r, 1, 4) : pick(r, 1, big ? 40 : 6);
        out[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
        ITensor x = tensor("in" + std::to_string(k), s, t, r);
        x.zero_point = 0;
        ins.push_back(x);
      }
      ITensor y = tensor("y", out, t, r);
      y.zero_point = 0;
      IConcat c;
      c.axis = axis;
      INFO(preset << " concat case " << i << " axis " << axis << " out " << shape_str(out));
      check_bitexact(one_op(ins, y, c, RequantSpec{}), arch_preset(preset), i == 5,
                     500 + static_cast<uint32_t>(i));
    }
}

TEST_CASE("back end: large conv tiles on edge (channel groups and row bands with halos)", "[backend]") {
  Rng r(7);
  int tiled = 0;
  for (int i = 0; i < 12; ++i) {
    const IntGraph g = random_conv(r, true);
    const BitexactResult res = check_bitexact(g, arch_preset("edge"), false, 300 + static_cast<uint32_t>(i));
    tiled += res.report.layers[0].tiles > 1;
  }
  CHECK(tiled >= 6);
}

namespace {

// Three 3x3 convs, 64 channels, 28x28: far larger than edge's 8 x 8 KiB LMEM.
IntGraph conv_stack() {
  Rng r(5);
  IntGraph g;
  g.source = "stack";
  ITensor x = tensor("t0", {1, 64, 28, 28}, DType::Int8, r);
  g.tensors["t0"] = x;
  g.inputs = {"t0"}, g.float_inputs = {"x"};
  for (int l = 1; l <= 3; ++l) {
    IConv c;
    c.kernel[0] = c.kernel[1] = 3;
    for (int64_t& p : c.pads) p = 1;
    for (int64_t i = 0; i < 64 * 64 * 9; ++i) c.weight.push_back(static_cast<int8_t>(pick(r, -127, 127)));
    c.w_scale.assign(64, 0.01f);
    for (int o = 0; o < 64; ++o) c.bias.push_back(static_cast<int32_t>(pick(r, -3000, 3000)));
    c.in_zp = g.tensors.at("t" + std::to_string(l - 1)).zero_point;
    const ITensor y = tensor("t" + std::to_string(l), {1, 64, 28, 28}, DType::Int8, r);
    g.tensors[y.name] = y;
    IOp op;
    op.name = "conv" + std::to_string(l);
    op.inputs = {"t" + std::to_string(l - 1)};
    op.output = y.name;
    op.kind = c;
    op.rq = requant(r, 64, 255.0 / (576.0 * 127 * 40), y);
    g.ops.push_back(op);
  }
  g.outputs = {"t3"}, g.float_outputs = {"y"};
  return g;
}

}  // namespace

TEST_CASE("back end: double buffering overlaps GDMA and TIU on edge", "[backend]") {
  const IntGraph g = conv_stack();
  const BitexactResult res = check_bitexact(g, arch_preset("edge"), true, 9);
  for (const ScheduleLayer& L : res.report.layers) {
    CHECK(L.tiles > 1);
    CHECK(L.double_buffered);
    CHECK(L.sim_cycles > 0);
    CHECK(L.efficiency > 0.0);
    CHECK(L.efficiency <= 1.0);
    WARN(L.name << ": " << L.tiles << " tiles, " << L.macs << " MACs, " << L.ddr_bytes
                << " DDR bytes, roofline " << L.roofline_cycles << ", simulated " << L.sim_cycles
                << ", efficiency " << L.efficiency);
  }
  const sim::Stats& s = res.stats;
  const uint64_t gdma = s.engine(Engine::Gdma).busy, tiu = s.engine(Engine::Tiu).busy;
  UNSCOPED_INFO("edge conv stack: total " << s.total_cycles << " gdma busy " << gdma << " tiu busy " << tiu);
  CHECK(s.total_cycles < gdma + tiu);
  WARN("edge conv stack: total " << s.total_cycles << " cycles, gdma busy " << gdma << ", tiu busy " << tiu
                                 << ", tiles/layer " << res.report.layers[0].tiles);
}

// Not run by default (hidden tag): `test_compiler_backend "[stress]"` for many more random layers.
TEST_CASE("back end: random layer stress", "[.][stress]") {
  Rng r(99);
  for (int i = 0; i < 1500; ++i) {
    const char* preset = i % 3 == 0 ? "edge" : i % 3 == 1 ? "default" : "server";
    const bool big = i % 7 == 0;
    const int kind = (i / 3) % 4;
    const IntGraph g = kind == 0   ? random_conv(r, big)
                       : kind == 1 ? random_pool(r, big)
                       : kind == 2 ? random_fc(r, big)
                                   : random_elementwise(r, big);
    INFO(preset << " stress case " << i << " " << kind_name(g.ops[0]));
    check_bitexact(g, arch_preset(preset), i % 10 == 0, 1000 + static_cast<uint32_t>(i));
  }
}

namespace {

DType narrow_type(Rng& r) { return static_cast<DType>(pick(r, 0, 3)); }  // int8, uint8, int4, uint4

// A random table of 2^bits(in) codes of `out`.
ILut random_lut(Rng& r, DType in, DType out) {
  ILut l;
  for (int64_t i = 0; i < (int64_t{1} << bits(in)); ++i)
    l.table.push_back(static_cast<int32_t>(pick(r, traits(out).qmin, traits(out).qmax)));
  return l;
}

}  // namespace

TEST_CASE("back end: lut layers bit-exact on every preset, int8 and int4 tables, tiled on edge",
          "[backend]") {
  Rng r(77);
  for (const Arch& a : arch_presets())
    for (int i = 0; i < 24; ++i) {
      const bool big = i % 4 == 0;
      // Big: [N, 96, 30, 20] with an 8-bit output, over 8 KiB per lane in and out on edge (case
      // 12: a 16-entry table, uint4 input).
      const DType in = big          ? (i == 12 ? DType::UInt4 : DType::Int8)
                       : i % 3 == 0 ? (i % 2 ? DType::Int4 : DType::UInt4)
                                    : narrow_type(r);
      const DType out = big ? (i % 8 ? DType::UInt8 : DType::Int8) : narrow_type(r);
      Shape s = !big && i % 5 == 1 ? Shape{pick(r, 1, 4), pick(r, 1, 50)}
                                   : Shape{pick(r, 1, 2), big ? 96 : pick(r, 1, 20),
                                           big ? 30 : pick(r, 1, 12), big ? 20 : pick(r, 1, 12)};
      if (is_4bit(in) || is_4bit(out)) s[0] = 1;  // 4-bit tiles start on whole bytes
      const ITensor x = tensor("x", s, in, r), y = tensor("y", s, out, r);
      const IntGraph g = one_op({x}, y, random_lut(r, in, out), RequantSpec{});
      INFO(a.name << " lut case " << i << " " << name(in) << " -> " << name(out) << " " << shape_str(s));
      const BitexactResult res = check_bitexact(g, a, i % 6 == 0, 300 + static_cast<uint32_t>(i));
      CHECK(res.report.layers[0].kind == "lut");
      if (big && a.name == "edge") CHECK(res.report.layers[0].tiles > 1);
    }
}

TEST_CASE("back end: eltwise with a broadcast [N, C, 1, 1] operand bit-exact on every preset", "[backend]") {
  Rng r(91);
  for (const Arch& a : arch_presets())
    for (int i = 0; i < 24; ++i) {
      const bool big = i % 4 == 0;
      const int64_t n = pick(r, 1, 2), c = big ? 96 : pick(r, 1, 24), h = big ? 30 : pick(r, 1, 12),
                    w = big ? 20 : pick(r, 1, 12);
      const DType ta = i % 7 == 3 ? DType::Int4 : act_type(r), tb = i % 7 == 5 ? DType::UInt4 : act_type(r);
      const bool nb = is_4bit(ta) || is_4bit(tb);
      const Shape full{nb ? 1 : n, c, h, w};
      const Shape small = i % 3 == 2 ? Shape{full[0], c} : Shape{full[0], c, 1, 1};
      const bool b_small = i % 2 == 0;  // else a is the broadcast one
      const ITensor x = tensor("a", b_small ? full : small, ta, r),
                    s = tensor("b", b_small ? small : full, tb, r);
      const ITensor y = tensor("y", full, act_type(r), r);
      IEltwise e;
      e.op = i % 5 == 4 ? EltOp::Max : i % 2 ? EltOp::Add : EltOp::Mul;
      e.a_zp = x.zero_point, e.b_zp = s.zero_point;
      e.a_rescale = make_multiplier(0.5 / 64), e.b_rescale = make_multiplier(0.7 / 64);
      const IntGraph g =
          one_op({x, s}, y, e, requant(r, pick(r, 0, 1) ? c : 1, e.op == EltOp::Mul ? 0.05 : 1.0, y));
      INFO(a.name << " broadcast case " << i << " a " << shape_str(x.shape) << " b " << shape_str(s.shape));
      const BitexactResult res = check_bitexact(g, a, i % 6 == 0, 500 + static_cast<uint32_t>(i));
      if (big && a.name == "edge") CHECK(res.report.layers[0].tiles > 1);
    }
}

TEST_CASE("back end: squeeze-and-excite, x * lut(s) with s broadcast, bit-exact on every preset",
          "[backend]") {
  // s [1, C, 1, 1] -> lut (a sigmoid-like table) -> g; y = x * g (g broadcast over h, w) -> lut.
  Rng r(5);
  for (const Arch& a : arch_presets()) {
    const int64_t C = 40, H = 14, W = 14;
    IntGraph g;
    g.source = "se";
    const ITensor x = tensor("x", {1, C, H, W}, DType::Int8, r),
                  s = tensor("s", {1, C, 1, 1}, DType::Int8, r);
    ITensor gate = tensor("gate", {1, C, 1, 1}, DType::UInt8, r),
            y = tensor("y", {1, C, H, W}, DType::Int8, r);
    const ITensor z = tensor("z", {1, C, H, W}, DType::Int4, r);
    gate.zero_point = 0;
    for (const ITensor* t : std::initializer_list<const ITensor*>{&x, &s, &gate, &y, &z})
      g.tensors[t->name] = *t;
    g.inputs = {"x", "s"}, g.float_inputs = {"x_f", "s_f"}, g.outputs = {"z"}, g.float_outputs = {"z_f"};
    ILut sig;
    for (int q = -128; q < 128; ++q)
      sig.table.push_back(static_cast<int32_t>(std::lround(255.0 / (1.0 + std::exp(-0.05 * q)))));
    IOp op1{"sigmoid", {"sigmoid"}, {"s"}, "gate", sig, {}};
    IEltwise mul;
    mul.op = EltOp::Mul, mul.a_zp = x.zero_point, mul.b_zp = 0;
    IOp op2{"mul", {"mul"}, {"x", "gate"}, "y", mul, requant(r, 1, 1.0 / 256, y)};
    IOp op3{"act", {"act"}, {"y"}, "z", random_lut(r, DType::Int8, DType::Int4), {}};
    g.ops = {op1, op2, op3};
    INFO(a.name);
    const BitexactResult res = check_bitexact(g, a, true, 9);
    CHECK(res.tensors_compared == 5);
  }
}
