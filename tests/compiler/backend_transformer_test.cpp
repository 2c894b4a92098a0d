// The back end on the transformer ops. layernorm and softmax (codegen_norm.cpp): random single ops
// over the last axis of [rows, D] and [N, S, D] tensors, 8- and 4-bit in and out, odd D, exp tables
// from real scales and random ones (negative and over-range entries the instruction clamps), (g, b)
// near their limits, tiled into bands of rows on edge. MatMuls of two activations
// (codegen_act_matmul.cpp): batched and shared second operands, int8 and int4, odd sizes, tiled on
// edge; and constant activations (codes stored with the program) read by eltwise and concat. All
// bit-exact against the integer reference on every preset, both schedules.
#include <catch2/catch.hpp>

#include "base/error.h"
#include "compiler/rearrange.h"
#include "quant/transformer_params.h"
#include "tests/compiler/backend_helpers.h"

using namespace betest;

namespace {

ISoftmax random_softmax(Rng& r, DType in) {
  if (pick(r, 0, 2)) return {softmax_exp_table(std::uniform_real_distribution<float>(0.01f, 0.5f)(r), in)};
  ISoftmax s;  // arbitrary entries: the clamp to [0, 2^24] and sums far from the real table's
  for (int64_t d = 0; d < (int64_t{1} << bits(in)); ++d)
    s.table.push_back(static_cast<int32_t>(pick(r, -1000, (int64_t{1} << 25))));
  return s;
}

ILayerNorm random_layernorm(Rng& r, int64_t d) {
  ILayerNorm l;
  for (int64_t c = 0; c < d; ++c) {
    l.g.push_back(static_cast<int32_t>(pick(r, -(int64_t{1} << 15), int64_t{1} << 15)));
    l.b.push_back(static_cast<int32_t>(pick(r, -(int64_t{1} << 20), int64_t{1} << 20)));
  }
  l.eps = static_cast<uint32_t>(pick(r, 0, 2) ? pick(r, 0, 100) : pick(r, 0, int64_t{1} << 31));
  return l;
}

// One op; `big`: enough rows that edge (8 KiB per lane) needs several bands.
IntGraph random_norm(Rng& r, bool softmax, bool big, int64_t* tiles_expected) {
  const DType in = act_type(r), out = act_type(r);
  const int64_t d = big ? pick(r, 100, 300) : pick(r, 1, 70);
  const Shape s = pick(r, 0, 1) ? Shape{big ? pick(r, 200, 600) : pick(r, 1, 40), d}
                                : Shape{pick(r, 1, 3), big ? pick(r, 100, 200) : pick(r, 1, 20), d};
  const ITensor x = tensor("x", s, in, r), y = tensor("y", s, out, r);
  const double span = double(traits(out).qmax - traits(out).qmin);
  *tiles_expected = big ? 2 : 1;
  if (softmax) return one_op({x}, y, random_softmax(r, in), requant(r, 1, span / 65536.0, y));
  return one_op({x}, y, random_layernorm(r, d), requant(r, 1, span / (8.0 * 32768.0), y));
}

// A ViT block's MLP half on [n, tokens, d]: y = x + fc2(gelu(fc1(layernorm(x)))), the GELU a random
// table, per-column requant on the matmuls.
IntGraph mlp_block(Rng& r, int64_t n, int64_t t, int64_t d, int64_t hidden, DType dt) {
  IntGraph g;
  g.source = "mlp";
  for (const auto& [name, f] : std::vector<std::pair<std::string, int64_t>>{
           {"x", d}, {"ln", d}, {"h", hidden}, {"gelu", hidden}, {"o", d}, {"y", d}})
    g.tensors[name] = tensor(name, {n, t, f}, dt, r);
  g.inputs = {"x"}, g.float_inputs = {"x_f"}, g.outputs = {"y"}, g.float_outputs = {"y_f"};
  auto span = [&](const std::string& v) {
    return double(traits(g.tensors.at(v).dtype).qmax - traits(g.tensors.at(v).dtype).qmin);
  };
  g.ops.push_back({"ln",
                   {"ln"},
                   {"x"},
                   "ln",
                   random_layernorm(r, d),
                   requant(r, 1, span("ln") / (8.0 * 32768.0), g.tensors.at("ln"))});
  auto fc = [&](const std::string& name, const std::string& in, const std::string& out, int64_t k,
                int64_t m) {
    IMatmul mm;
    for (int64_t i = 0; i < k * m; ++i) mm.weight.push_back(static_cast<int8_t>(pick(r, -127, 127)));
    mm.w_scale.assign(static_cast<size_t>(m), 0.01f);
    for (int64_t j = 0; j < m; ++j) mm.bias.push_back(static_cast<int32_t>(pick(r, -3000, 3000)));
    mm.in_zp = g.tensors.at(in).zero_point;
    g.ops.push_back({name,
                     {name},
                     {in},
                     out,
                     mm,
                     requant(r, m, span(out) / (double(k) * 127 * 30.0), g.tensors.at(out))});
  };
  fc("fc1", "ln", "h", d, hidden);
  ILut gelu;
  for (int64_t i = 0; i < (int64_t{1} << bits(dt)); ++i)
    gelu.table.push_back(static_cast<int32_t>(pick(r, traits(dt).qmin, traits(dt).qmax)));
  g.ops.push_back({"gelu", {"gelu"}, {"h"}, "gelu", gelu, {}});
  fc("fc2", "gelu", "o", hidden, d);
  IEltwise add;
  add.a_zp = g.tensors.at("x").zero_point, add.b_zp = g.tensors.at("o").zero_point;
  add.a_rescale = make_multiplier(0.5 / 64), add.b_rescale = make_multiplier(0.6 / 64);
  g.ops.push_back({"add", {"add"}, {"x", "o"}, "y", add, requant(r, 1, 1.0, g.tensors.at("y"))});
  return g;
}

}  // namespace

TEST_CASE("back end: a ViT MLP block keeps its tokens x features activations in LMEM",
          "[backend][transformer]") {
  for (const DType dt : {DType::Int8, DType::UInt8})
    for (int64_t n : {1, 2}) {
      Rng r(4 + static_cast<uint32_t>(n));
      const IntGraph g = mlp_block(r, n, 17 + n, 40, 96, dt);
      for (const Arch& a : arch_presets()) {
        INFO(a.name << " " << name(dt) << " batch " << n);
        const BitexactResult res = check_bitexact_opt(g, a, a.name == "default", 61, kMaxOpt);
        check_bitexact_opt(g, a, false, 61, 0);
        if (a.name != "default") continue;
        // The GELU, fc2 and the residual add read their producers' LMEM buffers (the eltwise and
        // lut lie as [n * tokens, d, 1, 1], the matmuls' own layout), and only y reaches DDR.
        for (const ScheduleLayer& L : res.report.layers) {
          CHECK(L.resident);
          CHECK(L.stored == (L.name == "add"));
          if (L.name != "ln") CHECK(L.kept_input == (L.name != "add"));
        }
      }
    }
}

TEST_CASE("back end: layernorm and softmax bit-exact on every preset, in bands of rows on edge",
          "[backend][transformer]") {
  Rng r(1717);
  for (const Arch& a : arch_presets())
    for (int i = 0; i < 24; ++i) {
      const bool softmax = i % 2, big = i % 6 < 2;
      int64_t min_tiles = 1;
      const IntGraph g = random_norm(r, softmax, big, &min_tiles);
      const ITensor& x = g.tensor("x");
      INFO(a.name << " case " << i << " " << (softmax ? "softmax " : "layernorm ") << name(x.dtype) << " -> "
                  << name(g.tensor("y").dtype) << " " << shape_str(x.shape));
      const BitexactResult res = check_bitexact(g, a, i % 4 == 0, 500 + static_cast<uint32_t>(i));
      CHECK(res.report.layers[0].kind == (softmax ? "softmax" : "layernorm"));
      if (a.name == "edge") CHECK(res.report.layers[0].tiles >= min_tiles);
    }
}

TEST_CASE("back end: a row too wide for LMEM is refused in one line naming the op",
          "[backend][transformer]") {
  Rng r(3);
  Arch a = arch_preset("edge");
  a.lane_bytes = 1024;  // one row of 4,000 int8 features needs 500 bytes in and out per lane + (g, b)
  const ITensor x = tensor("x", {2, 4000}, DType::Int8, r), y = tensor("y", {2, 4000}, DType::Int8, r);
  const IntGraph g = one_op({x}, y, random_layernorm(r, 4000), requant(r, 1, 1e-4, y));
  try {
    compile_int_graph(g, a, nullptr, 0);
    FAIL("compiled");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("layer: one row of 4000 features does not fit LMEM") !=
          std::string::npos);
  }
}

namespace {

// A [batch, M, K] x B [batch or 1, K, N] -> [batch, M, N].
IntGraph random_act_matmul(Rng& r, bool big) {
  const int64_t batch = pick(r, 1, 3), m = big ? pick(r, 60, 200) : pick(r, 1, 20);
  int64_t k = big ? pick(r, 64, 200) : pick(r, 1, 40), n = big ? pick(r, 60, 200) : pick(r, 1, 20);
  const DType in = act_type(r), w = pick(r, 0, 3) ? DType::Int8 : DType::Int4, out = act_type(r);
  if (is_4bit(w) || is_4bit(in) || is_4bit(out)) k += k % 2, n += n % 2;  // 4-bit blocks start on bytes
  const bool shared = pick(r, 0, 2) == 0;
  ITensor a = tensor("a", {batch, m, k}, in, r), b = tensor("b", {shared ? 1 : batch, k, n}, w, r);
  b.zero_point = 0;
  const ITensor y = tensor("y", {batch, m, n}, out, r);
  const double span = double(traits(out).qmax - traits(out).qmin);
  const double wmax = is_4bit(w) ? 7.0 : 127.0;
  return one_op({a, b}, y, IActMatmul{a.zero_point}, requant(r, 1, span / (double(k) * wmax * 60.0), y));
}

// Attention's head split: q, k, v [n, t, h*dh] viewed as [n, t, h, dh]; q and v transposed to
// [n, h, t, dh], k to [n, h, dh, t]; scores = q·kᵀ, ctx = scores·v (scores as the A operand); the
// head merge o = ctx transposed to [n, t, h, dh].
IntGraph head_attention(Rng& r, int64_t n, int64_t t, int64_t h, int64_t dh, DType dt) {
  IntGraph g;
  g.source = "heads";
  for (const char* v : {"q", "k", "v"}) {
    ITensor x = tensor(v, {n, t, h * dh}, std::string(v) == "q" ? dt : DType::Int8, r);
    if (std::string(v) != "q") x.zero_point = 0;  // B operands are signed at zero point 0
    g.tensors[v] = x;
    g.inputs.push_back(v), g.float_inputs.push_back(std::string(v) + "_f");
    ITensor x4 = x;
    x4.name = std::string(v) + "4", x4.view_of = v, x4.shape = {n, t, h, dh};
    g.tensors[x4.name] = x4;
  }
  auto heads = [&](const std::string& v, std::vector<int64_t> perm) {
    RearrangeAttrs at;
    at.perm = std::move(perm);
    const StridedView view = rearrange_view(at, g.tensors.at(v + "4").shape);
    ITensor y = g.tensors.at(v);
    y.name = v + "h", y.view_of = "", y.shape = view.out;
    g.tensors[y.name] = y;
    g.ops.push_back({y.name, {y.name}, {v + "4"}, y.name, IRearrange{view}, {}});
  };
  heads("q", {0, 2, 1, 3}), heads("k", {0, 2, 3, 1}), heads("v", {0, 2, 1, 3});
  const ITensor s = tensor("s", {n, h, t, t}, DType::Int8, r), y = tensor("y", {n, h, t, dh}, dt, r);
  g.tensors["s"] = s, g.tensors["y"] = y;
  g.ops.push_back({"scores",
                   {"scores"},
                   {"qh", "kh"},
                   "s",
                   IActMatmul{g.tensors.at("q").zero_point},
                   requant(r, 1, 255.0 / (double(dh) * 127.0 * 60.0), s)});
  g.ops.push_back({"ctx",
                   {"ctx"},
                   {"s", "vh"},
                   "y",
                   IActMatmul{s.zero_point},
                   requant(r, 1, 255.0 / (double(t) * 127.0 * 60.0), y)});
  RearrangeAttrs merge;
  merge.perm = {0, 2, 1, 3};
  const StridedView mv = rearrange_view(merge, y.shape);
  ITensor o = y;
  o.name = "o", o.shape = mv.out;
  g.tensors["o"] = o;
  g.ops.push_back({"o", {"o"}, {"y"}, "o", IRearrange{mv}, {}});
  g.outputs = {"o"}, g.float_outputs = {"o_f"};
  return g;
}

}  // namespace

TEST_CASE("back end: attention's head split and merge fold into the act_matmuls' loads and stores",
          "[backend][transformer]") {
  Rng r(88);
  for (const Arch& a : arch_presets())
    for (int i = 0; i < 5; ++i) {  // the last: one token (rows of one element)
      const int64_t n = 1 + i % 2, t = i == 4 ? 1 : pick(r, 3, 60), h = pick(r, 1, 4), dh = pick(r, 2, 24);
      const IntGraph g = head_attention(r, n, t, h, dh, i == 3 ? DType::UInt8 : DType::Int8);
      INFO(a.name << " case " << i << " n " << n << " t " << t << " h " << h << " dh " << dh);
      const BitexactResult res = check_bitexact_opt(g, a, i % 2 == 0, 90 + static_cast<uint32_t>(i), kMaxOpt);
      const BitexactResult res0 = check_bitexact_opt(g, a, false, 90 + static_cast<uint32_t>(i), 0);
      // --opt 2: the four rearranges emit nothing (the split's outputs never reach DDR, ctx
      // stores the merge's output, which the check above compared); --opt 0 copies.
      for (const BitexactResult* x : {&res, &res0})
        for (const ScheduleLayer& L : x->report.layers) {
          if (L.kind == "rearrange")
            CHECK(L.ddr_bytes ==
                  (x == &res ? 0 : 2 * static_cast<uint64_t>(num_elements(g.tensor(L.name).shape))));
          if (L.name == "ctx") CHECK(L.stored == (x == &res0));
        }
    }
}

TEST_CASE("back end: MatMuls of two activations bit-exact on every preset, tiled on edge",
          "[backend][transformer]") {
  Rng r(4242);
  for (const Arch& a : arch_presets())
    for (int i = 0; i < 20; ++i) {
      const bool big = i % 5 == 0;
      const IntGraph g = random_act_matmul(r, big);
      INFO(a.name << " case " << i << " " << shape_str(g.tensor("a").shape) << " x "
                  << shape_str(g.tensor("b").shape) << " " << name(g.tensor("b").dtype));
      const BitexactResult res = check_bitexact(g, a, i % 4 == 0, 700 + static_cast<uint32_t>(i));
      CHECK(res.report.layers[0].kind == "act_matmul");
      if (big && a.name == "edge") CHECK(res.report.layers[0].tiles > 1);
    }
}

TEST_CASE("back end: constant activations read by eltwise and concat bit-exact on every preset",
          "[backend][transformer]") {
  Rng r(99);
  for (const Arch& a : arch_presets())
    for (int i = 0; i < 8; ++i) {
      const DType dt = i % 4 == 3 ? DType::Int4 : act_type(r);
      const int64_t s = pick(r, 2, 40) * 2, d = pick(r, 1, 70) * 2;
      ITensor x = tensor("x", {1, s, d}, dt, r), k = tensor("k", {1, s, d}, dt, r);
      for (int64_t e = 0; e < s * d; ++e)
        k.data.push_back(static_cast<int32_t>(pick(r, traits(dt).qmin, traits(dt).qmax)));
      IntGraph g;
      if (i % 2) {  // y = x + k (ViT's position embedding)
        const ITensor y = tensor("y", {1, s, d}, dt, r);
        IEltwise e;
        e.op = EltOp::Add, e.a_zp = x.zero_point, e.b_zp = k.zero_point;
        e.a_rescale = make_multiplier(0.5), e.b_rescale = make_multiplier(0.25);
        g = one_op({x, k}, y, e, requant(r, 1, 1.0, y));
      } else {  // y = concat(k, x) along the tokens (ViT's class token)
        const ITensor y = tensor("y", {1, 2 * s, d}, dt, r);
        g = one_op({k, x}, y, IConcat{1}, RequantSpec{});
        g.tensors["y"].zero_point = x.zero_point, g.tensors["x"].zero_point = k.zero_point;
      }
      // k is no input: its codes come with the program.
      const size_t at =
          static_cast<size_t>(std::find(g.inputs.begin(), g.inputs.end(), "k") - g.inputs.begin());
      g.inputs.erase(g.inputs.begin() + static_cast<std::ptrdiff_t>(at));
      g.float_inputs.erase(g.float_inputs.begin() + static_cast<std::ptrdiff_t>(at));
      INFO(a.name << " case " << i << " " << name(dt) << " " << shape_str(x.shape));
      check_bitexact(g, a, i % 3 == 0, 800 + static_cast<uint32_t>(i));
    }
}
