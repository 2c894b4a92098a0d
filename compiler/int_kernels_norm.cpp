// The integer reference of the transformer ops — the reductions over the last axis (ILayerNorm,
// ISoftmax) and the MatMul of two activations (IActMatmul): written from the formulas of
// int_graph.h, independently of isa/ (whose kernels reduce over LMEM channels).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "compiler/int_kernels.h"

namespace tpusim::compiler::int_kernels {

namespace {

// a / q rounded half up, q > 0: floor of (2a + q) / 2q, with floor division.
int64_t div_half_up(int64_t a, int64_t q) {
  const int64_t n = 2 * a + q, d = 2 * q;
  return n >= 0 ? n / d : -((-n + d - 1) / d);
}

// floor(sqrt(v)), from the float estimate corrected by one step at most each way.
int64_t sqrt_floor(int64_t v) {
  if (v <= 0) return 0;
  auto r = static_cast<int64_t>(std::sqrt(static_cast<long double>(v)));
  while (r * r > v) --r;
  while ((r + 1) * (r + 1) <= v) ++r;
  return r;
}

int32_t finish(const RequantSpec& rq, int64_t acc, uint64_t& overflows) {
  const int32_t s = sat_int32(acc);
  overflows += s != acc;
  const Multiplier& m = rq.at(0);
  return tpusim::requant(s, m.m0, m.shift, rq.out_zp, rq.clamp_lo, rq.clamp_hi);
}

}  // namespace

uint64_t layer_norm(const ILayerNorm& l, const RequantSpec& rq, const IntValue& x, IntValue& y) {
  const int64_t D = x.shape.back(), rows = num_elements(x.shape) / std::max<int64_t>(D, 1);
  if (static_cast<int64_t>(l.g.size()) != D || static_cast<int64_t>(l.b.size()) != D)
    throw Error(fmt::format("layernorm: {} (g, b) pairs for {} channels", l.g.size(), D));
  y.data.assign(x.data.size(), 0);
  uint64_t overflows = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* q = x.data.data() + r * D;
    int64_t s1 = 0, s2 = 0;
    for (int64_t c = 0; c < D; ++c) s1 += q[c], s2 += int64_t{q[c]} * q[c];
    const int64_t sigma = std::max<int64_t>(1, sqrt_floor(D * s2 - s1 * s1 + l.eps));
    for (int64_t c = 0; c < D; ++c) {
      const auto k = static_cast<size_t>(c);
      y.data[static_cast<size_t>(r * D + c)] =
          finish(rq, div_half_up((D * q[c] - s1) * l.g[k], sigma) + l.b[k], overflows);
    }
  }
  return overflows;
}

uint64_t softmax(const ISoftmax& s, const RequantSpec& rq, const IntValue& x, IntValue& y) {
  const DTypeTraits& in = traits(x.dtype);
  if (in.bits > 8 || s.table.size() != size_t{1} << in.bits)
    throw Error(
        fmt::format("softmax: table has {} entries, a {} input needs 2^bits", s.table.size(), in.name));
  const int64_t L = x.shape.back(), rows = num_elements(x.shape) / std::max<int64_t>(L, 1);
  y.data.assign(x.data.size(), 0);
  uint64_t overflows = 0;
  std::vector<int64_t> e(static_cast<size_t>(L));
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* q = x.data.data() + r * L;
    const int32_t mx = *std::max_element(q, q + L);
    int64_t sum = 0;
    for (int64_t c = 0; c < L; ++c)
      sum += e[static_cast<size_t>(c)] =
          std::clamp<int64_t>(s.table[static_cast<size_t>(mx - q[c])], 0, int64_t{1} << 24);
    for (int64_t c = 0; c < L; ++c) {
      const int64_t p = sum > 0 ? div_half_up(e[static_cast<size_t>(c)] << 16, sum) : 0;
      y.data[static_cast<size_t>(r * L + c)] = finish(rq, p, overflows);
    }
  }
  return overflows;
}

uint64_t act_matmul(const IActMatmul& m, const RequantSpec& rq, const IntValue& a, const IntValue& b,
                    IntValue& y) {
  const size_t ra = a.shape.size(), rb = b.shape.size();
  if (ra < 2 || rb < 2 || a.shape[ra - 1] != b.shape[rb - 2])
    throw Error(
        fmt::format("act_matmul: shapes {} and {} do not multiply", shape_str(a.shape), shape_str(b.shape)));
  const int64_t M = a.shape[ra - 2], K = a.shape[ra - 1], N = b.shape[rb - 1];
  const int64_t batches = M * K != 0 ? num_elements(a.shape) / (M * K) : 0;
  const int64_t b_batches = K * N != 0 ? num_elements(b.shape) / (K * N) : 0;
  if (b_batches != 1 && b_batches != batches)
    throw Error(fmt::format("act_matmul: {} batches against {}", batches, b_batches));
  y.data.assign(static_cast<size_t>(batches * M * N), 0);
  uint64_t overflows = 0;
  for (int64_t t = 0; t < batches; ++t) {
    const int32_t* A = a.data.data() + t * M * K;
    const int32_t* B = b.data.data() + (b_batches == 1 ? 0 : t) * K * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += (int64_t{A[i * K + k]} - m.a_zp) * B[k * N + j];
        y.data[static_cast<size_t>((t * M + i) * N + j)] = finish(rq, acc, overflows);
      }
  }
  return overflows;
}

}  // namespace tpusim::compiler::int_kernels
