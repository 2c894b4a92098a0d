// The back end's data movement on random graphs built directly as IntGraphs, on every preset,
// bit-exact against the integer reference: channel gathers (shuffle, slice, permutations) and
// rearranges (transposes, slices along any axes, nearest upsampling), 8- and 4-bit; GDMA only.
#include <catch2/catch.hpp>
#include <numeric>

#include "tests/compiler/backend_helpers.h"

using namespace betest;

namespace {

enum class GatherKind { Shuffle2, Shuffle3, Shuffle4, Slice, Reverse, Random };

std::vector<int64_t> gather_channels(Rng& r, GatherKind k, int64_t c) {
  std::vector<int64_t> ch;
  const int64_t groups = k == GatherKind::Shuffle2 ? 2 : k == GatherKind::Shuffle3 ? 3 : 4;
  switch (k) {
    case GatherKind::Shuffle2:
    case GatherKind::Shuffle3:
    case GatherKind::Shuffle4:  // c must be a multiple of groups
      for (int64_t o = 0; o < c; ++o) ch.push_back((o % groups) * (c / groups) + o / groups);
      break;
    case GatherKind::Slice:
      for (int64_t o = c / 2; o < c; ++o) ch.push_back(o);
      break;
    case GatherKind::Reverse:
      for (int64_t o = c - 1; o >= 0; --o) ch.push_back(o);
      break;
    case GatherKind::Random: {
      const int64_t n = pick(r, 1, c + 3);  // a permutation, then repeats
      for (int64_t o = 0; o < std::min(n, c); ++o) ch.push_back(o);
      std::shuffle(ch.begin(), ch.end(), r);
      while (static_cast<int64_t>(ch.size()) < n) ch.push_back(pick(r, 0, c - 1));
      std::shuffle(ch.begin(), ch.end(), r);
      break;
    }
  }
  return ch;
}

IntGraph gather_graph(Rng& r, Shape in, DType t, std::vector<int64_t> ch) {
  const ITensor x = tensor("x", in, t, r);
  ITensor y = x;
  y.name = "y";
  y.shape[1] = static_cast<int64_t>(ch.size());
  return one_op({x}, y, IGather{std::move(ch)}, RequantSpec{});
}

}  // namespace

TEST_CASE(
    "back end: channel gathers (shuffle, slice, reverse, random) bit-exact on every preset, 8- and "
    "4-bit, tiled on edge",
    "[backend]") {
  Rng r(404);
  const DType types[] = {DType::Int8, DType::UInt8, DType::Int4, DType::UInt4};
  const GatherKind kinds[] = {GatherKind::Shuffle2, GatherKind::Shuffle3, GatherKind::Shuffle4,
                              GatherKind::Slice,    GatherKind::Reverse,  GatherKind::Random};
  int cases = 0, nibble_odd = 0;
  for (const Arch& a : arch_presets())
    for (int i = 0; i < 48; ++i) {
      const DType t = types[i % 4];
      const GatherKind k = kinds[(i / 4) % 6];
      const int shape_kind = i % 3 == 0 ? 2 : i / 24;  // small 4-D, big 4-D, 2-D
      const int64_t c = 12 * (shape_kind == 1 ? pick(r, 6, 12) : pick(r, 1, 3));
      Shape s;
      if (shape_kind == 0)  // h*w often odd: 4-bit rows start on either nibble
        s = {pick(r, 1, 3), c, pick(r, 1, 7), pick(r, 1, 7)};
      else if (shape_kind == 1)  // beyond edge's 8 KiB per lane: tiles over channels, batch or rows
        s = {2, c, pick(r, 24, 31), pick(r, 24, 31)};
      else
        s = {pick(r, 1, 5), c};
      const IntGraph g = gather_graph(r, s, t, gather_channels(r, k, c));
      const Shape& ys = g.tensors.at("y").shape;
      INFO(a.name << " gather case " << i << " " << name(t) << " kind " << static_cast<int>(k) << " "
                  << shape_str(s) << " -> " << shape_str(ys));
      const BitexactResult res = check_bitexact(g, a, i % 8 == 0, 700 + static_cast<uint32_t>(i));
      const ScheduleLayer& L = res.report.layers[0];
      CHECK(L.kind == "gather");
      CHECK(L.tiu_begin == L.tiu_end);  // GDMA copies only
      CHECK(L.tiles >= 1);
      if (i % 8 == 0) CHECK(L.sim_cycles > 0);
      if (shape_kind == 1 && a.name == "edge" && !is_4bit(t)) CHECK(L.tiles > 1);
      nibble_odd += is_4bit(t) && num_elements(s) / (s[0] * s[1]) % 2 == 1;
      ++cases;
    }
  CHECK(cases == 144);
  CHECK(nibble_odd >= 12);
}

TEST_CASE("back end: 4-bit gathers with odd rows, large enough to tile on edge", "[backend]") {
  Rng r(405);
  for (const char* preset : {"edge", "server"})
    for (int i = 0; i < 6; ++i) {
      const DType t = i % 2 ? DType::UInt4 : DType::Int4;
      const int64_t c = 600;
      const Shape s{1 + i / 3, c, 15, 15};  // rows of 225 elements: edge holds 36 per lane (288 rows)
      const GatherKind k = i % 3 == 0   ? GatherKind::Shuffle3
                           : i % 3 == 1 ? GatherKind::Slice
                                        : GatherKind::Random;
      const IntGraph g = gather_graph(r, s, t, gather_channels(r, k, c));
      INFO(preset << " odd 4-bit gather case " << i);
      const BitexactResult res =
          check_bitexact(g, arch_preset(preset), i == 0, 800 + static_cast<uint32_t>(i));
      if (std::string(preset) == "edge" && k != GatherKind::Random) CHECK(res.report.layers[0].tiles > 1);
    }
}

TEST_CASE("back end: conv -> channel shuffle -> conv, the gather between TIU ops, on every preset",
          "[backend]") {
  for (const Arch& a : arch_presets())
    for (const DType t : {DType::Int8, DType::Int4}) {
      Rng r(17);
      const int64_t C = 24, H = 9, W = 7;  // odd rows: 4-bit channels start on either nibble
      IntGraph g;
      g.source = "shuffle";
      const ITensor x = tensor("x", {1, 16, H, W}, DType::Int8, r), m = tensor("m", {1, C, H, W}, t, r);
      ITensor s = m;
      s.name = "s";
      const ITensor y = tensor("y", {1, C, H, W}, DType::Int8, r);
      for (const ITensor* v : std::initializer_list<const ITensor*>{&x, &m, &s, &y}) g.tensors[v->name] = *v;
      g.inputs = {"x"}, g.float_inputs = {"x_f"}, g.outputs = {"y"}, g.float_outputs = {"y_f"};
      auto conv = [&](const ITensor& in, const ITensor& out, int64_t groups) {
        IConv c;
        c.kernel[0] = c.kernel[1] = 3;
        for (int64_t& p : c.pads) p = 1;
        c.groups = groups;
        const int64_t K = in.shape[1] / groups * 9;
        for (int64_t i = 0; i < out.shape[1] * K; ++i)
          c.weight.push_back(static_cast<int8_t>(pick(r, -127, 127)));
        c.w_scale.assign(static_cast<size_t>(out.shape[1]), 0.01f);
        c.in_zp = in.zero_point;
        return c;
      };
      const double s1 = double(traits(t).qmax - traits(t).qmin) / (16 * 9 * 127 * 40.0);
      IOp op1{"conv1", {"conv1"}, {"x"}, "m", conv(x, m, 1), requant(r, C, s1, m)};
      IOp op2{"shuffle", {"shuffle"}, {"m"}, "s", IGather{gather_channels(r, GatherKind::Shuffle2, C)}, {}};
      IOp op3{"conv2", {"conv2"}, {"s"}, "y", conv(s, y, 3), requant(r, C, 255.0 / (8 * 9 * 127 * 40.0), y)};
      g.ops = {op1, op2, op3};
      INFO(a.name << " " << name(t));
      const BitexactResult res = check_bitexact(g, a, true, 11);
      CHECK(res.tensors_compared == 4);
      CHECK(res.report.layers[1].kind == "gather");
      CHECK(res.report.layers[1].tiu_begin == res.report.layers[1].tiu_end);
      if (t == DType::Int8) CHECK(res.report.layers[1].tiles == 2);  // two runs, each one load + store
      CHECK(res.report.layers[1].sim_cycles > 0);
    }
}

// Not run by default (hidden tag): `test_compiler_backend "[stress]"` for many more random gathers.
TEST_CASE("back end: random gather stress", "[.][stress]") {
  Rng r(4242);
  const GatherKind kinds[] = {GatherKind::Shuffle2, GatherKind::Shuffle3, GatherKind::Shuffle4,
                              GatherKind::Slice,    GatherKind::Reverse,  GatherKind::Random};
  for (int i = 0; i < 600; ++i) {
    const char* preset = i % 3 == 0 ? "edge" : i % 3 == 1 ? "default" : "server";
    const DType t = static_cast<DType>(pick(r, 0, 3));
    const GatherKind k = kinds[pick(r, 0, 5)];
    const int64_t c = 12 * pick(r, 1, 8);
    const Shape s = pick(r, 0, 3) == 0 ? Shape{pick(r, 1, 7), c}
                                       : Shape{pick(r, 1, 3), c, pick(r, 1, 24), pick(r, 1, 24)};
    const IntGraph g = gather_graph(r, s, t, gather_channels(r, k, c));
    INFO(preset << " gather stress case " << i << " " << name(t) << " " << shape_str(s));
    check_bitexact(g, arch_preset(preset), i % 10 == 0, 2000 + static_cast<uint32_t>(i));
  }
}

namespace {

// A random view of x: a transpose, a slice (steps >= 1), an upsampling, by kind.
RearrangeAttrs random_rearrange(Rng& r, int kind, const Shape& s) {
  RearrangeAttrs a;
  const size_t rank = s.size();
  if (kind == 0) {
    a.kind = RearrangeAttrs::Kind::Transpose;
    a.perm.resize(rank);
    std::iota(a.perm.begin(), a.perm.end(), 0);
    while (std::is_sorted(a.perm.begin(), a.perm.end())) std::shuffle(a.perm.begin(), a.perm.end(), r);
  } else if (kind == 1) {
    a.kind = RearrangeAttrs::Kind::Slice;
    for (size_t k = 0; k < rank; ++k) {
      const int64_t step = pick(r, 1, 3), start = pick(r, 0, s[k] - 1);
      a.starts.push_back(start);
      a.steps.push_back(step);
      a.sizes.push_back(pick(r, 1, (s[k] - 1 - start) / step + 1));
    }
  } else {
    a.kind = RearrangeAttrs::Kind::Resize;
    for (size_t k = 0; k < rank; ++k) a.scales.push_back(k < 2 && rank == 4 ? 1 : pick(r, 1, 3));
  }
  return a;
}

IntGraph rearrange_graph(Rng& r, const Shape& in, DType t, const RearrangeAttrs& a) {
  const ITensor x = tensor("x", in, t, r);
  ITensor y = x;
  y.name = "y";
  const StridedView v = rearrange_view(a, in);
  y.shape = v.out;
  return one_op({x}, y, IRearrange{v}, RequantSpec{});
}

}  // namespace

TEST_CASE("back end: rearranges (transpose, slice, upsample) bit-exact on every preset, 8-bit, tiled on edge",
          "[backend]") {
  Rng r(505);
  int cases = 0, tiled = 0;
  for (const Arch& a : arch_presets())
    for (int i = 0; i < 36; ++i) {
      const DType t = i % 2 ? DType::UInt8 : DType::Int8;
      const int kind = (i / 2) % 3;
      const int shape_kind = (i / 6) % 3;  // small 4-D, big 4-D, 2-D/3-D/5-D
      Shape s;
      if (shape_kind == 0)
        s = {pick(r, 1, 3), pick(r, 1, 20), pick(r, 1, 9), pick(r, 1, 9)};
      else if (shape_kind == 1)  // beyond edge's 8 KiB per lane
        s = {2, pick(r, 40, 70), pick(r, 20, 31), pick(r, 20, 31)};
      else if (i % 3 == 0)
        s = {pick(r, 1, 5), pick(r, 2, 40)};
      else if (i % 3 == 1)
        s = {pick(r, 1, 3), pick(r, 2, 50), pick(r, 2, 70)};
      else
        s = {pick(r, 1, 2), pick(r, 2, 6), pick(r, 2, 5), pick(r, 2, 7), pick(r, 2, 9)};
      const RearrangeAttrs ra = random_rearrange(r, kind, s);
      const IntGraph g = rearrange_graph(r, s, t, ra);
      INFO(a.name << " rearrange case " << i << " " << name(t) << " kind " << kind << " " << shape_str(s)
                  << " -> " << shape_str(g.tensors.at("y").shape));
      const BitexactResult res = check_bitexact(g, a, i % 6 == 0, 900 + static_cast<uint32_t>(i));
      const ScheduleLayer& L = res.report.layers[0];
      CHECK(L.kind == "rearrange");
      CHECK(L.tiu_begin == L.tiu_end);  // GDMA copies only
      CHECK(L.tiles >= 1);
      if (i % 6 == 0) CHECK(L.sim_cycles > 0);
      tiled += L.tiles > 1;
      ++cases;
    }
  CHECK(cases == 108);
  CHECK(tiled >= 20);
}

TEST_CASE(
    "back end: 4-bit rearranges whose copies start on even elements are bit-exact; odd starts are refused",
    "[backend]") {
  Rng r(506);
  for (const Arch& a : arch_presets())
    for (const DType t : {DType::Int4, DType::UInt4}) {
      // NCHW -> NHWC of even channels: every row of the output starts on an even element.
      RearrangeAttrs tr;
      tr.perm = {0, 2, 3, 1};
      INFO(a.name << " " << name(t));
      check_bitexact(rearrange_graph(r, {2, 16, 5, 7}, t, tr), a, true, 31);
      RearrangeAttrs up;
      up.kind = RearrangeAttrs::Kind::Resize;
      up.scales = {1, 1, 2, 2};
      check_bitexact(rearrange_graph(r, {1, 8, 6, 6}, t, up), a, false, 32);
      // Columns 1..3 of every other row: the load starts at input element 1.
      RearrangeAttrs sl;
      sl.kind = RearrangeAttrs::Kind::Slice;
      sl.starts = {0, 0, 0, 1}, sl.steps = {1, 1, 2, 1}, sl.sizes = {1, 3, 4, 3};
      const IntGraph g = rearrange_graph(r, {1, 3, 7, 7}, t, sl);
      CHECK_THROWS_WITH(compile_int_graph(g, a, nullptr), Catch::Contains("odd element offset") &&
                                                              Catch::Contains("store the tensor in 8 bits"));
    }
}
