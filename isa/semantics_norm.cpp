// softmax and layernorm: the reductions over the channels at each position (n, h, w), integer-only
// (isa_table.h states the formulas; docs/numerics.md derives them). Operands and reference kernels;
// the fast kernel set runs these too.
#include <algorithm>

#include "isa/numerics.h"
#include "isa/semantics_internal.h"

namespace tpusim::sem {

namespace {

uint64_t u(int64_t v) { return static_cast<uint64_t>(v); }
DType dt(int64_t v) { return static_cast<DType>(v); }

constexpr int64_t kExpCap = int64_t{1} << 24;  // table entries are clamped to [0, 2^24]
constexpr int kProbBits = 16;                  // softmax's accumulator: probability * 2^16

// The positions (n, h, w) of a compact tensor, each with the element index offset of its channel 0
// in every lane group (element (n, c, h, w) at plane(t, n, c).index + h * w_ + w).
template <class F>
void for_each_position(const Tensor& t, F&& f) {
  for (uint64_t n = 0; n < t.n; ++n)
    for (uint64_t i = 0; i < t.h * t.w; ++i) f(n, i);
}

}  // namespace

Operands operands_softmax(const Instr& in, uint32_t lanes) {
  const auto s = ops::Softmax::from(in);
  Operands o;
  o.list.push_back(compact("src", false, u(s.src), dt(s.in_dtype), u(s.n), u(s.c), u(s.h), u(s.w), lanes));
  const uint64_t entries = bits(dt(s.in_dtype)) <= 8 ? lut_entries(dt(s.in_dtype)) : 0;  // int32: check()
  o.list.push_back(
      channel_table("table", u(s.table), DType::Int32, std::min<uint64_t>(u(s.c), lanes), entries));
  if (s.rq_per_channel) o.list.push_back(channel_table("rq", u(s.rq), DType::Int32, u(s.c), 2));
  o.list.push_back(compact("dst", true, u(s.dst), dt(s.out_dtype), u(s.n), u(s.c), u(s.h), u(s.w), lanes));
  return o;
}

Operands operands_layernorm(const Instr& in, uint32_t lanes) {
  const auto l = ops::Layernorm::from(in);
  Operands o;
  o.list.push_back(compact("src", false, u(l.src), dt(l.in_dtype), u(l.n), u(l.c), u(l.h), u(l.w), lanes));
  o.list.push_back(channel_table("params", u(l.params), DType::Int32, u(l.c), 2));
  if (l.rq_per_channel) o.list.push_back(channel_table("rq", u(l.rq), DType::Int32, u(l.c), 2));
  o.list.push_back(compact("dst", true, u(l.dst), dt(l.out_dtype), u(l.n), u(l.c), u(l.h), u(l.w), lanes));
  return o;
}

void exec_softmax(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto s = ops::Softmax::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &table = ops.get("table"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(s), ops, m, dst.c, "softmax");
  const uint64_t C = dst.c;
  std::vector<int64_t> q(C), e(C);
  for_each_position(dst, [&](uint64_t n, uint64_t i) {
    for (uint64_t c = 0; c < C; ++c) {
      const Plane x = plane(src, m, n, c);
      q[c] = load_elem(x.base, x.index + i, src.dtype);
    }
    const int64_t mx = *std::max_element(q.begin(), q.end());
    int64_t sum = 0;
    for (uint64_t c = 0; c < C; ++c) {
      const Plane tab = plane(table, m, 0, c % m.geo.lanes);  // the copy in this channel's lane
      e[c] = std::clamp<int64_t>(load_elem(tab.base, tab.index + u(mx - q[c]), DType::Int32), 0, kExpCap);
      sum += e[c];
    }
    for (uint64_t c = 0; c < C; ++c) {
      const int64_t p = sum > 0 ? div_round_half_up(e[c] << kProbBits, sum) : 0;
      const Plane out = plane(dst, m, n, c);
      store_elem(out.base, out.index + i, dst.dtype, rq.apply(saturate_acc(p, counters), c));
    }
  });
}

void exec_layernorm(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto l = ops::Layernorm::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &params = ops.get("params"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(l), ops, m, dst.c, "layernorm");
  const uint64_t C = dst.c;
  const auto D = static_cast<int64_t>(C);
  std::vector<int64_t> g(C), b(C), x(C);
  for (uint64_t c = 0; c < C; ++c) {
    const Plane p = plane(params, m, 0, c);
    g[c] = load_elem(p.base, p.index, DType::Int32);
    b[c] = load_elem(p.base, p.index + 1, DType::Int32);
  }
  for_each_position(dst, [&](uint64_t n, uint64_t i) {
    int64_t s1 = 0, s2 = 0;
    for (uint64_t c = 0; c < C; ++c) {
      const Plane p = plane(src, m, n, c);
      x[c] = load_elem(p.base, p.index + i, src.dtype);
      s1 += x[c];
      s2 += x[c] * x[c];
    }
    const int64_t sigma = std::max<int64_t>(1, isqrt(D * s2 - s1 * s1 + l.eps));
    for (uint64_t c = 0; c < C; ++c) {
      const int64_t a = (D * x[c] - s1) * g[c];  // |D*x - s1| < 2^25, |g| <= 2^31: fits
      const int64_t acc = div_round_half_up(a, sigma) + b[c];
      const Plane out = plane(dst, m, n, c);
      store_elem(out.base, out.index + i, dst.dtype, rq.apply(saturate_acc(acc, counters), c));
    }
  });
}

}  // namespace tpusim::sem
