// The tensor side of the ONNX writer (onnx_export.cpp): initializers, value infos, attributes,
// and which 4-bit tensors are written in 8-bit containers.
#include <algorithm>
#include <bit>

#include "compiler/onnx_export_internal.h"

namespace tpusim::compiler::export_detail {

bool is_4bit(ElemType t) { return t == ElemType::I4 || t == ElemType::U4; }

// The 8-bit type of the same signedness.
ElemType container_of(ElemType t) { return t == ElemType::I4 ? ElemType::I8 : ElemType::U8; }

// The quantized side of a QuantizeLinear/DequantizeLinear written in an 8-bit container: every
// 4-bit one except integer graph inputs and outputs, whose declared types stay. ONNX Runtime 1.30
// fails to create a session at level "extended" when a 4-bit tensor feeds a MaxPool (after its QDQ
// rewrite) or follows a Clip, and at opset 21 when a signed activation reaches a Reshape; import's
// narrow_storage pass reads the containers back into 4 bits.
std::set<std::string> widened_tensors(const Graph& g) {
  std::set<std::string> r;
  const auto io = [&](const std::string& t) {
    return std::find(g.inputs.begin(), g.inputs.end(), t) != g.inputs.end() ||
           std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
  };
  for (const Node& n : g.nodes) {
    const auto* a = std::get_if<QuantAttrs>(&n.attrs);
    if (!a) continue;
    const std::string& q_side = n.op == Op::QuantizeLinear ? n.outputs[0] : n.input(0);
    if (is_4bit(g.tensor(q_side).type) && !io(q_side)) r.insert(q_side);
  }
  return r;
}

// The IR version that goes with a default-domain opset.
int64_t ir_version_for(int64_t opset) { return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10; }

namespace {

void put_le(std::string& raw, uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) raw.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

}  // namespace

// An IR constant as an initializer: raw_data as onnx_tensor.cpp's decode_raw reads it.
// A 4-bit constant is written in its 8-bit container (`widen`), as widened_tensors says.
void fill_tensor(onnx::TensorProto& p, const Tensor& t, bool widen) {
  p.set_name(t.name);
  const ElemType type = widen && is_4bit(t.type) ? container_of(t.type) : t.type;
  p.set_data_type(static_cast<int32_t>(type));
  for (int64_t d : t.shape) p.add_dims(d);
  const int64_t n = t.elements();
  std::string raw;
  if (t.type == ElemType::F32) {
    raw.reserve(static_cast<size_t>(n) * 4);
    for (int64_t i = 0; i < n; ++i) put_le(raw, std::bit_cast<uint32_t>(t.f32[static_cast<size_t>(i)]), 4);
  } else if (is_4bit(type)) {
    raw.assign(static_cast<size_t>((n + 1) / 2), '\0');
    for (int64_t i = 0; i < n; ++i)
      raw[static_cast<size_t>(i / 2)] =
          static_cast<char>(static_cast<uint8_t>(raw[static_cast<size_t>(i / 2)]) |
                            static_cast<uint8_t>((static_cast<uint64_t>(t.ints[static_cast<size_t>(i)]) & 0xF)
                                                 << (4 * (i % 2))));
  } else {
    const int size = type == ElemType::I64 ? 8 : type == ElemType::I32 ? 4 : 1;
    raw.reserve(static_cast<size_t>(n * size));
    for (int64_t i = 0; i < n; ++i) put_le(raw, static_cast<uint64_t>(t.ints[static_cast<size_t>(i)]), size);
  }
  p.set_raw_data(std::move(raw));
}

void fill_value_info(onnx::ValueInfoProto& vi, const Tensor& t) {
  vi.set_name(t.name);
  auto* tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(t.type));
  auto* shape = tt->mutable_shape();
  for (int64_t d : t.shape) shape->add_dim()->set_dim_value(d);
}

void attr(onnx::NodeProto& p, const char* name, int64_t v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr(onnx::NodeProto& p, const char* name, float v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void attr(onnx::NodeProto& p, const char* name, const std::string& v) {
  auto* a = p.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

// Whether the written model has a 4-bit tensor: a 4-bit graph input or output (everything else is
// widened, widened_tensors).
bool uses_4bit(const Graph& g) {
  for (const auto* io : {&g.inputs, &g.outputs})
    for (const std::string& t : *io)
      if (is_4bit(g.tensor(t).type)) return true;
  return false;
}

}  // namespace tpusim::compiler::export_detail
