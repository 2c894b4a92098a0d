#include "quant/transformer_params.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace tpusim {

namespace {

void want_scale(double s, const char* what) {
  if (!std::isfinite(s) || s <= 0) throw Error(fmt::format("{} {} must be finite and positive", what, s));
}

int32_t round_sat32(double v) {
  return static_cast<int32_t>(std::clamp(std::nearbyint(v), -2147483648.0, 2147483647.0));
}

}  // namespace

std::vector<int32_t> softmax_exp_table(float s_in, DType in) {
  want_scale(s_in, "softmax input scale");
  std::vector<int32_t> t(size_t{1} << bits(in));
  for (size_t d = 0; d < t.size(); ++d)
    t[d] = static_cast<int32_t>(std::lround(
        std::ldexp(std::exp(-static_cast<double>(s_in) * static_cast<double>(d)), kSoftmaxTableBits)));
  return t;
}

double softmax_acc_unit() { return std::ldexp(1.0, -kSoftmaxProbBits); }

LayerNormInts layernorm_ints(const std::vector<double>& gamma, const std::vector<double>& beta,
                             double epsilon, float s_in) {
  want_scale(s_in, "layernorm input scale");
  if (!beta.empty() && beta.size() != gamma.size())
    throw Error(fmt::format("layernorm: {} betas for {} gammas", beta.size(), gamma.size()));
  double top = 0;
  for (size_t c = 0; c < gamma.size(); ++c) {
    if (!std::isfinite(gamma[c]) || (!beta.empty() && !std::isfinite(beta[c])))
      throw Error(fmt::format("layernorm: gamma/beta of channel {} is not finite", c));
    top = std::max(top, std::abs(gamma[c]));
  }
  if (!(top > 0)) throw Error("layernorm: every gamma is 0");
  if (!std::isfinite(epsilon) || epsilon < 0)
    throw Error(fmt::format("layernorm: epsilon {} is invalid", epsilon));
  LayerNormInts r;
  r.unit = std::ldexp(top, -15);
  for (size_t c = 0; c < gamma.size(); ++c) {
    r.g.push_back(round_sat32(gamma[c] / r.unit));
    r.b.push_back(round_sat32(beta.empty() ? 0.0 : beta[c] / r.unit));
  }
  const auto D = static_cast<double>(gamma.size());
  const double e = std::nearbyint(epsilon * D * D / (static_cast<double>(s_in) * s_in));
  r.eps = static_cast<uint32_t>(std::clamp(e, 0.0, 4294967295.0));
  return r;
}

}  // namespace tpusim
