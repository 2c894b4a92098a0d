#include "compiler/ops.h"

#include <array>

namespace tpusim::compiler {

namespace {
struct OpInfo {
  Op op;
  const char* name;
  bool from_onnx;
};
constexpr std::array<OpInfo, 62> kOps{{
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
    {Op::Sigmoid, "Sigmoid", true},
    {Op::HardSigmoid, "HardSigmoid", true},
    {Op::HardSwish, "HardSwish", true},
    {Op::Tanh, "Tanh", true},
    {Op::LeakyRelu, "LeakyRelu", true},
    {Op::Elu, "Elu", true},
    {Op::Exp, "Exp", true},
    {Op::Erf, "Erf", true},
    {Op::Softplus, "Softplus", true},
    {Op::Gelu, "Gelu", true},
    {Op::Silu, "Silu", false},
    {Op::ChannelGather, "ChannelGather", false},
    {Op::Rearrange, "Rearrange", false},
    {Op::Softmax, "Softmax", true},
    {Op::LayerNormalization, "LayerNormalization", true},
    {Op::Identity, "Identity", true},
    {Op::Dropout, "Dropout", true},
    {Op::Shape, "Shape", true},
    {Op::Gather, "Gather", true},
    {Op::Unsqueeze, "Unsqueeze", true},
    {Op::Squeeze, "Squeeze", true},
    {Op::Cast, "Cast", true},
    {Op::ConstantOfShape, "ConstantOfShape", true},
    {Op::Range, "Range", true},
    {Op::Slice, "Slice", true},
    {Op::Transpose, "Transpose", true},
    {Op::Sub, "Sub", true},
    {Op::Div, "Div", true},
    {Op::Neg, "Neg", true},
    {Op::Sqrt, "Sqrt", true},
    {Op::Pad, "Pad", true},
    {Op::ReduceMean, "ReduceMean", true},
    {Op::Split, "Split", true},
    {Op::Resize, "Resize", true},
    {Op::Pow, "Pow", true},
    {Op::Equal, "Equal", true},
    {Op::Where, "Where", true},
    {Op::Expand, "Expand", true},
    {Op::Mod, "Mod", true},
    {Op::ScatterND, "ScatterND", true},
    {Op::Not, "Not", true},
    {Op::QLinearConv, "QLinearConv", true},
    {Op::QLinearMatMul, "QLinearMatMul", true},
    {Op::ConvInteger, "ConvInteger", true},
    {Op::MatMulInteger, "MatMulInteger", true},
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

const std::vector<int64_t>* OnnxAttrs::find_ints(const std::string& name) const {
  auto it = ints.find(name);
  return it == ints.end() ? nullptr : &it->second;
}

int64_t OnnxAttrs::i(const std::string& name, int64_t def) const {
  const auto* v = find_ints(name);
  return v && v->size() == 1 ? (*v)[0] : def;
}

std::string OnnxAttrs::s(const std::string& name, const std::string& def) const {
  auto it = strings.find(name);
  return it == strings.end() ? def : it->second;
}

}  // namespace tpusim::compiler
