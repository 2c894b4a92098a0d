// Pass: Mul(x, Sigmoid(x)) -> Silu(x) and Mul(x, HardSigmoid(x)) -> HardSwish(x) (what torch.onnx
// writes for SiLU at every opset and for Hardswish before opset 14). The gate must feed only the
// Mul; either Mul input order.
#include <algorithm>

#include "compiler/canonicalize.h"

namespace tpusim::compiler {

int fuse_pointwise(Graph& g) {
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& m = g.nodes[i];
    if (m.op != Op::Mul) continue;
    for (size_t k = 0; k < 2; ++k) {
      const Node* gate = g.producer(m.input(k));
      const std::string& x = m.input(1 - k);
      if (!gate || gate->input(0) != x || (gate->op != Op::Sigmoid && gate->op != Op::HardSigmoid)) continue;
      const std::string gate_out = gate->outputs[0];
      if (g.consumers(gate_out).size() != 1 ||
          std::find(g.outputs.begin(), g.outputs.end(), gate_out) != g.outputs.end())
        continue;
      const bool hard = gate->op == Op::HardSigmoid;
      const PointwiseAttrs a = gate->attr<PointwiseAttrs>();
      m.op = hard ? Op::HardSwish : Op::Silu;
      m.attrs = a;
      m.inputs = {x};
      const auto it = std::find_if(g.nodes.begin(), g.nodes.end(),
                                   [&](const Node& n) { return n.outputs[0] == gate_out; });
      const auto gi = static_cast<size_t>(it - g.nodes.begin());
      g.nodes.erase(it);
      g.tensors.erase(gate_out);
      if (gi < i) --i;
      ++fused;
      break;
    }
  }
  return fused;
}

}  // namespace tpusim::compiler
