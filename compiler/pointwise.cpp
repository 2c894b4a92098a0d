#include "compiler/pointwise.h"

#include <algorithm>
#include <cmath>

namespace tpusim::compiler {

bool is_pointwise(Op op) { return op >= Op::Sigmoid && op <= Op::Silu; }

double pointwise(Op op, const PointwiseAttrs& a, double x) {
  switch (op) {
    case Op::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Op::HardSigmoid: return std::clamp(a.alpha * x + a.beta, 0.0, 1.0);
    case Op::HardSwish: return x * std::clamp(a.alpha * x + a.beta, 0.0, 1.0);
    case Op::Silu: return x / (1.0 + std::exp(-x));
    case Op::Tanh: return std::tanh(x);
    case Op::LeakyRelu: return x >= 0 ? x : a.alpha * x;
    case Op::Elu: return x >= 0 ? x : a.alpha * (std::exp(x) - 1.0);
    case Op::Exp: return std::exp(x);
    case Op::Erf: return std::erf(x);
    case Op::Softplus: return x > 30 ? x : std::log1p(std::exp(x));
    case Op::Gelu:
      if (a.tanh_approx)
        return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    default: return x;
  }
}

}  // namespace tpusim::compiler
