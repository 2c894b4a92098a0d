#include "qat/fake_quant_transformer.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "isa/numerics.h"
#include "quant/quantize.h"
#include "quant/transformer_params.h"

namespace tpusim::qat {

namespace {

constexpr int64_t kExpCap = int64_t{1} << 24;  // the instruction clamps table entries to [0, 2^24]

void check(const torch::Tensor& x, const Grid& in, const Grid& out, const char* what) {
  if (x.dim() < 1 || x.size(-1) < 1)
    throw Error(fmt::format("{}: the input needs a non-empty last axis", what));
  for (const Grid* g : {&in, &out})
    if (bits(g->dtype) > 8 || g->dtype == DType::Int32)
      throw Error(fmt::format("{}: grids are 8- or 4-bit, got {}", what, name(g->dtype)));
}

// The codes of x on grid g, as int64 [rows, D].
std::vector<int64_t> codes(const torch::Tensor& x, const Grid& g) {
  const torch::Tensor f = x.detach().to(torch::kFloat32).contiguous();
  const float* p = f.data_ptr<float>();
  std::vector<int64_t> q(static_cast<size_t>(f.numel()));
  for (size_t i = 0; i < q.size(); ++i) q[i] = quantize_linear(p[i], g.scale, g.zero_point, g.dtype);
  return q;
}

// The requant of `acc` (one accumulator unit = `unit` in real terms) onto `out`, dequantized.
struct Requant {
  QuantMultiplier m;
  Grid out;
  int32_t lo, hi;
  Requant(double unit, const Grid& o) : m(quantize_multiplier(unit / static_cast<double>(o.scale))), out(o) {
    lo = static_cast<int32_t>(traits(o.dtype).qmin), hi = static_cast<int32_t>(traits(o.dtype).qmax);
  }
  float operator()(int64_t acc) const {
    return dequantize_linear(requant(sat_int32(acc), m.m0, m.shift, out.zero_point, lo, hi), out.scale,
                             out.zero_point);
  }
};

// Forward = `integer` exactly (v + (r - r) is v: r - r is 0 in floating point, unlike the usual
// r + (v - r).detach(), which is off by an ulp), backward = `reference`'s.
torch::Tensor straight_through(const torch::Tensor& reference, const std::vector<float>& integer) {
  const torch::Tensor v =
      torch::from_blob(const_cast<float*>(integer.data()), reference.sizes(), torch::kFloat32)
          .clone()
          .to(reference.dtype());
  return v + (reference - reference.detach());
}

}  // namespace

torch::Tensor int_softmax(const torch::Tensor& x, const Grid& in, const Grid& out) {
  check(x, in, out, "int_softmax");
  const std::vector<int32_t> table = softmax_exp_table(in.scale, in.dtype);
  const Requant rq(softmax_acc_unit(), out);
  const std::vector<int64_t> q = codes(x, in);
  const int64_t D = x.size(-1), rows = x.numel() / D;
  std::vector<float> y(q.size());
  std::vector<int64_t> e(static_cast<size_t>(D));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* row = q.data() + r * D;
    const int64_t mx = *std::max_element(row, row + D);
    int64_t sum = 0;
    for (int64_t c = 0; c < D; ++c)
      sum += e[static_cast<size_t>(c)] =
          std::clamp<int64_t>(table[static_cast<size_t>(mx - row[c])], 0, kExpCap);
    for (int64_t c = 0; c < D; ++c)
      y[static_cast<size_t>(r * D + c)] =
          rq(sum > 0 ? div_round_half_up(e[static_cast<size_t>(c)] << kSoftmaxProbBits, sum) : 0);
  }
  return straight_through(torch::softmax(x, -1), y);  // the float op carries the gradient
}

torch::Tensor int_layernorm(const torch::Tensor& x, const torch::Tensor& gamma, const torch::Tensor& beta,
                            double epsilon, const Grid& in, const Grid& out) {
  check(x, in, out, "int_layernorm");
  const int64_t D = x.size(-1), rows = x.numel() / D;
  if (gamma.numel() != D || (beta.defined() && beta.numel() != D))
    throw Error(fmt::format("int_layernorm: gamma/beta have {}/{} values for {} features", gamma.numel(),
                            beta.defined() ? beta.numel() : 0, D));
  const torch::Tensor g64 = gamma.detach().to(torch::kFloat64).contiguous();
  const std::vector<double> gv(g64.data_ptr<double>(), g64.data_ptr<double>() + D);
  std::vector<double> bv;
  if (beta.defined()) {
    const torch::Tensor b64 = beta.detach().to(torch::kFloat64).contiguous();
    bv.assign(b64.data_ptr<double>(), b64.data_ptr<double>() + D);
  }
  const LayerNormInts p = layernorm_ints(gv, bv, epsilon, in.scale);
  const Requant rq(p.unit, out);
  const std::vector<int64_t> q = codes(x, in);
  std::vector<float> y(q.size());
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* row = q.data() + r * D;
    int64_t s1 = 0, s2 = 0;
    for (int64_t c = 0; c < D; ++c) s1 += row[c], s2 += row[c] * row[c];
    const int64_t sigma = std::max<int64_t>(1, isqrt(D * s2 - s1 * s1 + p.eps));
    for (int64_t c = 0; c < D; ++c) {
      const auto k = static_cast<size_t>(c);
      y[static_cast<size_t>(r * D + c)] = rq(div_round_half_up((D * row[c] - s1) * p.g[k], sigma) + p.b[k]);
    }
  }
  const torch::Tensor ref = torch::layer_norm(x, {D}, gamma, beta.defined() ? beta : torch::Tensor(), epsilon,
                                              /*cudnn_enable=*/false);
  return straight_through(ref, y);
}

}  // namespace tpusim::qat
