// Internals of the ONNX writer shared by onnx_export.cpp and onnx_export_tensors.cpp.
#pragma once
#include <onnx/onnx_pb.h>

#include <set>
#include <string>

#include "compiler/graph.h"

namespace tpusim::compiler::export_detail {

bool is_4bit(ElemType t);
// The 8-bit type of the same signedness.
ElemType container_of(ElemType t);
// The quantized sides of QuantizeLinear/DequantizeLinear nodes written in an 8-bit container: every
// 4-bit one except integer graph inputs and outputs (onnx_export.h says why).
std::set<std::string> widened_tensors(const Graph& g);
// Whether the written model has a 4-bit tensor: a 4-bit graph input or output.
bool uses_4bit(const Graph& g);
// The IR version that goes with a default-domain opset.
int64_t ir_version_for(int64_t opset);

// An IR constant as an initializer (raw_data, as onnx_tensor.cpp reads it); a 4-bit one in its
// 8-bit container when `widen`.
void fill_tensor(onnx::TensorProto& p, const Tensor& t, bool widen = false);
void fill_value_info(onnx::ValueInfoProto& vi, const Tensor& t);

void attr(onnx::NodeProto& p, const char* name, int64_t v);
void attr(onnx::NodeProto& p, const char* name, float v);
void attr(onnx::NodeProto& p, const char* name, const std::string& v);
template <class C>
void attr_ints(onnx::NodeProto& p, const char* name, const C& v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

}  // namespace tpusim::compiler::export_detail
