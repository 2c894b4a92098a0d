// The QAT exporter's ONNX building blocks (onnx_graph_writer.h).
#include "qat/onnx_graph_writer.h"

#include <cstring>

#include "isa/numerics.h"

namespace tpusim::qat {

int32_t onnx_type(DType t) {
  switch (t) {
    case DType::Int8: return kOnnxInt8;
    case DType::UInt8: return kOnnxUInt8;
    case DType::Int4: return kOnnxInt4;
    case DType::UInt4: return kOnnxUInt4;
    case DType::Int32: return kOnnxInt32;
  }
  return 0;
}

// The type a grid's integers are written in: its storage type, or the 8-bit type of the same
// signedness (the compiler's narrow_storage pass reads them back into 4 bits).
DType container(const QuantSpec& s, bool four_bit_types) {
  if (four_bit_types || s.bits > 4) return s.storage();
  return s.is_signed ? DType::Int8 : DType::UInt8;
}

// Whether the grid leaves part of its container unused (2-bit in int4, 4-bit in uint8, narrow):
// then QuantizeLinear alone would saturate at the container's limits, so a Clip restores the grid's.
bool narrower_than(const QuantSpec& s, DType container) {
  const DTypeTraits& t = traits(container);
  return s.qmin() > t.qmin || s.qmax() < t.qmax;
}

GraphWriter::GraphWriter(bool four_bit) : g(model.mutable_graph()), four_bit_types(four_bit) {}

onnx::TensorProto* GraphWriter::init(const std::string& name, const std::vector<int64_t>& dims,
                                     int32_t type) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  return t;
}

std::string GraphWriter::floats(const std::string& name, const std::vector<int64_t>& dims,
                                std::span<const float> v) {
  std::string raw(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &v[i], 4);
    for (int b = 0; b < 4; ++b) raw[i * 4 + b] = static_cast<char>(bits >> (8 * b));  // little-endian
  }
  init(name, dims, kOnnxFloat)->set_raw_data(raw);
  return name;
}

// Integers in raw_data: 4-bit two per byte (low nibble first), int32 little-endian.
std::string GraphWriter::ints(const std::string& name, const std::vector<int64_t>& dims, DType t,
                              const std::vector<int32_t>& v) {
  std::string raw(packed_bytes(t, v.size()), '\0');
  for (size_t i = 0; i < v.size(); ++i) store_elem(reinterpret_cast<uint8_t*>(raw.data()), i, t, v[i]);
  init(name, dims, onnx_type(t))->set_raw_data(raw);
  return name;
}

onnx::NodeProto& GraphWriter::node(const std::string& op, const std::vector<std::string>& inputs,
                                   const std::string& out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(out);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(out);
  return *n;
}

std::string GraphWriter::int64s(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<int64_t>& v) {
  onnx::TensorProto* t = init(name, dims, kOnnxInt64);
  for (int64_t x : v) t->add_int64_data(x);
  return name;
}

void GraphWriter::attr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void GraphWriter::attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void GraphWriter::attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

// x -> QuantizeLinear -> "<prefix>_q" -> DequantizeLinear -> out, with "<prefix>_scale" and
// "<prefix>_zero_point" as parameters.
std::string GraphWriter::quant_dequant(const std::string& x, const std::string& prefix,
                                       const std::string& out, const QuantParams& p) {
  const std::string s = floats(prefix + "_scale", {}, std::span(&p.scale, 1));
  const std::string z = ints(prefix + "_zero_point", {}, container(p.spec, four_bit_types), {p.zero_point});
  node("QuantizeLinear", {x, s, z}, prefix + "_q");
  node("DequantizeLinear", {prefix + "_q", s, z}, out);
  return out;
}

// x -> Clip("<prefix>_clip") to the grid's range, where the grid is narrower than its container.
std::string GraphWriter::clip_to(const std::string& x, const std::string& prefix, const QuantParams& p) {
  if (!narrower_than(p.spec, container(p.spec, four_bit_types))) return x;
  const float lo = static_cast<float>(p.spec.qmin() - p.zero_point) * p.scale;
  const float hi = static_cast<float>(p.spec.qmax() - p.zero_point) * p.scale;
  return node("Clip",
              {x, floats(prefix + "_clip_min", {}, std::span(&lo, 1)),
               floats(prefix + "_clip_max", {}, std::span(&hi, 1))},
              prefix + "_clip")
      .output(0);
}

}  // namespace tpusim::qat
