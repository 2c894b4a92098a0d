#include "compiler/ops.h"

#include <array>

namespace tpusim::compiler {

namespace {
struct OpInfo {
  Op op;
  const char* name;
  bool from_onnx;
};
constexpr std::array<OpInfo, 17> kOps{{
    {Op::Conv, "Conv", true},
    {Op::Gemm, "Gemm", true},
    {Op::MatMul, "MatMul", true},
    {Op::Relu, "Relu", true},
    {Op::Clip, "Clip", true},
    {Op::MaxPool, "MaxPool", true},
    {Op::AveragePool, "AveragePool", true},
    {Op::GlobalAveragePool, "GlobalAveragePool", true},
    {Op::Add, "Add", true},
    {Op::Mul, "Mul", true},
    {Op::Flatten, "Flatten", true},
    {Op::Reshape, "Reshape", true},
    {Op::BatchNormalization, "BatchNormalization", true},
    {Op::Concat, "Concat", true},
    {Op::QuantizeLinear, "QuantizeLinear", true},
    {Op::DequantizeLinear, "DequantizeLinear", true},
    {Op::ChannelAffine, "ChannelAffine", false},
}};
constexpr bool table_consistent() {
  for (size_t i = 0; i < kOps.size(); ++i)
    if (static_cast<size_t>(kOps[i].op) != i) return false;
  return true;
}
static_assert(table_consistent(), "kOps must be indexed by Op");
}  // namespace

const char* op_name(Op op) { return kOps[static_cast<size_t>(op)].name; }

std::optional<Op> op_from_onnx(std::string_view op_type) {
  for (const OpInfo& i : kOps)
    if (i.from_onnx && op_type == i.name) return i.op;
  return std::nullopt;
}

}  // namespace tpusim::compiler
