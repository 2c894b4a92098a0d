// Concats stored in place (compiler/ddr_concat.cpp): a DenseNet-like block, stem -> a = conv(s),
// c1 = cat(s, a), b = conv(c1), c2 = cat(s, a, b), y = conv(c2). At batch 1 every input is
// stored by its producer inside c2 and c1 is c2's first channels, so neither concat moves a byte;
// at batch 2 (slices not contiguous) and with a graph input among the inputs they copy as before.
// Bit-exact against the integer reference on every preset, both schedules, either way.
#include <string>

#include "tests/compiler/backend_helpers.h"

using namespace betest;

namespace {

IConv conv3(Rng& r, const ITensor& in, const ITensor& out) {
  IConv c;
  c.kernel[0] = c.kernel[1] = 3;
  for (int64_t& p : c.pads) p = 1;
  for (int64_t i = 0; i < out.shape[1] * in.shape[1] * 9; ++i)
    c.weight.push_back(static_cast<int8_t>(pick(r, -127, 127)));
  c.w_scale.assign(static_cast<size_t>(out.shape[1]), 0.01f);
  c.in_zp = in.zero_point;
  return c;
}

// stem_from_input false: s is the graph input itself (not produced by an op: never moved).
IntGraph dense_block(Rng& r, int64_t n, DType t, bool stem_from_input) {
  IntGraph g;
  g.source = "dense block";
  const int64_t H = 9, W = is_4bit(t) ? 8 : 7;  // 4-bit concats need whole-byte slice offsets
  auto add = [&](const std::string& name, int64_t c) {
    ITensor x = tensor(name, {n, c, H, W}, t, r);
    if (!g.tensors.empty()) x.zero_point = g.tensors.begin()->second.zero_point;  // concat inputs share it
    g.tensors[name] = x;
    return x;
  };
  const ITensor x = add("x", 6), s = stem_from_input ? x : add("s", 6), a = add("a", 5), c1 = add("c1", 11),
                b = add("b", 3), c2 = add("c2", 14), y = add("y", 4);
  const double span = double(traits(t).qmax - traits(t).qmin);
  auto rq = [&](const ITensor& o, int64_t K) {
    return requant(r, o.shape[1], span / (double(K) * 9 * 127 * 40), o);
  };
  if (!stem_from_input) g.ops.push_back({"stem", {"stem"}, {"x"}, "s", conv3(r, x, s), rq(s, 6)});
  g.ops.push_back({"conv_a", {"conv_a"}, {s.name}, "a", conv3(r, s, a), rq(a, 6)});
  g.ops.push_back({"cat1", {"cat1"}, {s.name, "a"}, "c1", IConcat{1}, {}});
  g.ops.push_back({"conv_b", {"conv_b"}, {"c1"}, "b", conv3(r, c1, b), rq(b, 11)});
  g.ops.push_back({"cat2", {"cat2"}, {s.name, "a", "b"}, "c2", IConcat{1}, {}});
  g.ops.push_back({"conv_y", {"conv_y"}, {"c2"}, "y", conv3(r, c2, y), rq(y, 14)});
  g.inputs = {"x"}, g.float_inputs = {"x_f"}, g.outputs = {"y"}, g.float_outputs = {"y_f"};
  return g;
}

uint64_t concat_bytes(const CompileReport& rep) {
  uint64_t b = 0;
  for (const ScheduleLayer& L : rep.layers)
    if (L.kind == "concat") b += L.ddr_bytes;
  return b;
}

}  // namespace

TEST_CASE("back end: concat inputs stored in place inside the concat's output", "[backend]") {
  for (const DType t : {DType::Int8, DType::Int4})
    for (int64_t n : {1, 2})
      for (bool from_input : {false, true}) {
        Rng r(90 + static_cast<uint32_t>(n));
        const IntGraph g = dense_block(r, n, t, from_input);
        for (const Arch& a : arch_presets()) {
          INFO(a.name << " " << name(t) << " batch " << n << (from_input ? ", s = the graph input" : ""));
          const bool timed = a.name == "edge";
          const BitexactResult res = check_bitexact_opt(g, a, timed, 5, kMaxOpt);
          const BitexactResult res0 = check_bitexact_opt(g, a, timed, 5, 0);
          // Batch 1: no concat copies (batch 2 and a graph input: copies).
          if (n == 1 && !from_input) {
            CHECK(concat_bytes(res.report) == 0);
            CHECK(concat_bytes(res0.report) == 0);
            CHECK(res.report.tensor_addr.at("c1") == res.report.tensor_addr.at("c2"));
            CHECK(res.report.tensor_addr.at("a") ==
                  res.report.tensor_addr.at("c2") + packed_bytes(t, 6 * 9 * uint64_t(is_4bit(t) ? 8 : 7)));
          }
          if (n == 2 || from_input) CHECK(concat_bytes(res0.report) > 0);
        }
      }
}
