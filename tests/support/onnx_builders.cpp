#include "tests/support/onnx_builders.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "base/error.h"
#include "compiler/onnx_import.h"

namespace tpusim::testing {

compiler::Graph import_model(const std::string& bytes, int64_t batch) {
  return compiler::import_onnx_bytes(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
                                     "m.onnx", compiler::ImportOptions{batch});
}

std::string import_error(const std::string& bytes, int64_t batch) {
  try {
    import_model(bytes, batch);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

ModelBuilder::ModelBuilder(int64_t opset, int64_t ir_version) {
  m_.set_ir_version(ir_version);
  m_.set_producer_name("tpusim-tests");
  auto* op = m_.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  g_ = m_.mutable_graph();
  g_->set_name("test");
}

ModelBuilder& ModelBuilder::input(const std::string& name, const std::vector<int64_t>& shape, int32_t type) {
  auto* vi = g_->add_input();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(type);
  auto* sh = tt->mutable_shape();
  for (int64_t d : shape) {
    auto* dim = sh->add_dim();
    if (d < 0)
      dim->set_dim_param("N");
    else
      dim->set_dim_value(d);
  }
  return *this;
}

ModelBuilder& ModelBuilder::output(const std::string& name, int32_t type) {
  auto* vi = g_->add_output();
  vi->set_name(name);
  vi->mutable_type()->mutable_tensor_type()->set_elem_type(type);
  return *this;
}

namespace {
onnx::TensorProto* new_init(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& shape,
                            int32_t type) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : shape) t->add_dims(d);
  return t;
}
}  // namespace

std::string ModelBuilder::f32(const std::string& name, const std::vector<int64_t>& shape,
                              const std::vector<float>& v, bool raw) {
  auto* t = new_init(g_, name, shape, kFloat);
  if (raw)
    t->set_raw_data(
        std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));  // little-endian host
  else
    for (float f : v) t->add_float_data(f);
  return name;
}

std::string ModelBuilder::ints(const std::string& name, const std::vector<int64_t>& shape, int32_t type,
                               const std::vector<int64_t>& v, bool raw) {
  auto* t = new_init(g_, name, shape, type);
  const bool four = type == kInt4 || type == kUInt4;
  if (four) {
    std::string packed((v.size() + 1) / 2, '\0');
    for (size_t i = 0; i < v.size(); ++i)
      packed[i / 2] =
          static_cast<char>(static_cast<uint8_t>(packed[i / 2]) | ((v[i] & 0xF) << (4 * (i % 2))));
    if (raw)
      t->set_raw_data(packed);
    else
      for (char c : packed) t->add_int32_data(static_cast<uint8_t>(c));
    return name;
  }
  if (!raw) {
    for (int64_t x : v) type == kInt64 ? t->add_int64_data(x) : t->add_int32_data(static_cast<int32_t>(x));
    return name;
  }
  const int size = type == kInt64 ? 8 : type == kInt32 ? 4 : 1;
  std::string bytes(v.size() * size, '\0');
  for (size_t i = 0; i < v.size(); ++i)
    for (int b = 0; b < size; ++b)
      bytes[i * size + b] = static_cast<char>(static_cast<uint64_t>(v[i]) >> (8 * b));
  t->set_raw_data(bytes);
  return name;
}

onnx::NodeProto& ModelBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                    const std::string& output, const std::string& name) {
  auto* n = g_->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? output : name);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(output);
  return *n;
}

std::string ModelBuilder::bytes() const { return m_.SerializeAsString(); }

void attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

std::vector<float> uniform(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<int64_t> uniform_ints(std::mt19937& rng, size_t n, int64_t lo, int64_t hi) {
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<int64_t> v(n);
  for (int64_t& x : v) x = d(rng);
  return v;
}

}  // namespace tpusim::testing

namespace tpusim::testing {

std::string add_qdq(ModelBuilder& b, const std::string& in, const std::string& out, float scale, int64_t zp,
                    int32_t type) {
  const std::string s = b.scalar(out + "_scale", scale), z = b.ints(out + "_zp", {}, type, {zp});
  b.node("QuantizeLinear", {in, s, z}, out + "_q", out + "_quant");
  b.node("DequantizeLinear", {out + "_q", s, z}, out, out);
  return out;
}

std::string add_dq_const(ModelBuilder& b, const std::string& name, const std::vector<int64_t>& shape,
                         int32_t type, const std::vector<int64_t>& q, const std::vector<float>& scale,
                         std::vector<int64_t> zp, int64_t axis) {
  if (zp.empty()) zp.assign(scale.size(), 0);
  const bool per_axis = scale.size() > 1;
  const std::vector<int64_t> sshape =
      per_axis ? std::vector<int64_t>{static_cast<int64_t>(scale.size())} : std::vector<int64_t>{};
  const std::string qn = b.ints(name + "_q", shape, type, q);
  std::vector<std::string> ins{qn, b.f32(name + "_scale", sshape, scale)};
  if (type != kInt32) ins.push_back(b.ints(name + "_zp", sshape, type, zp));
  auto& n = b.node("DequantizeLinear", ins, name, name);
  if (per_axis) attr(n, "axis", axis);
  return name;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i)
    ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

}  // namespace tpusim::testing
