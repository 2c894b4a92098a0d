#include "compiler/canonicalize.h"

#include <fmt/format.h>

namespace tpusim::compiler {

namespace {

// Ops that exist in the IR only until canonicalization has run.
bool canonicalization_only(Op op) { return op >= Op::Identity; }

}  // namespace

std::string why_left(const Node& n) {
  return fmt::format("{} (supported ops: docs/compiler.md, \"Operators\")", [&]() -> std::string {
    switch (n.op) {
      case Op::Pad: return "only a constant-mode Pad with value 0 before a Conv or pool is supported";
      case Op::ReduceMean: return "only ReduceMean over the H and W axes of a 4-D tensor is supported";
      case Op::Sub:
      case Op::Div: return "only Sub/Div by a constant (or of two constants) is supported";
      case Op::QLinearConv:
        return "needs constant weights, scales and zero points (per-tensor input and output)";
      case Op::QLinearMatMul:
        return "needs a constant, 2-D b (the weights) and constant scales and zero points; a product of "
               "two activations is not supported";
      case Op::ConvInteger:
      case Op::MatMulInteger:
        return "needs constant weights and zero points (per-tensor for the activation); a product of two "
               "activations is not supported";
      default:
        if (!canonicalization_only(n.op)) return "is not supported here";
        return "supported only on constant inputs (shape computations folded at compile time); "
               "on activations it is not supported yet";
    }
  }());
}

CanonStats canonicalize(Graph& g) {
  CanonStats s;
  s.bypassed = bypass_identity(g);
  s.fused = fuse_transformer(g);
  fold_constants(g, s);
  s.pads = fold_pad(g);
  s.shuffles = fuse_channel_shuffle(g);
  s.fused += fuse_pointwise(g);
  s.narrowed = narrow_storage(g);
  for (const Node& n : g.nodes)
    if (canonicalization_only(n.op)) g.fail(n, why_left(n));
  return s;
}

}  // namespace tpusim::compiler
