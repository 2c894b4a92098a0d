// Back end DDR allocation: activations first (graph order), then each op's constants.
#include "compiler/ddr_alloc.h"

#include "compiler/tiling.h"

namespace tpusim::compiler::be {

namespace {

void put_i32(std::vector<uint8_t>& b, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(u >> (8 * i)));
}

std::vector<uint8_t> pack_weights(const std::vector<int8_t>& w, DType dt) {
  std::vector<uint8_t> b;
  if (!is_4bit(dt)) {
    for (int8_t v : w) b.push_back(static_cast<uint8_t>(v));
    return b;
  }
  b.assign((w.size() + 1) / 2, 0);
  for (size_t i = 0; i < w.size(); ++i)
    b[i / 2] |= static_cast<uint8_t>((static_cast<uint8_t>(w[i]) & 0xF) << (i % 2 ? 4 : 0));
  return b;
}

uint64_t place(Program& p, uint64_t& at, std::vector<uint8_t> bytes) {
  const uint64_t addr = at;
  at = align_up(at + bytes.size(), 64);
  p.data.push_back({addr, std::move(bytes)});
  return addr;
}

void add_tables(Program& p, uint64_t& at, const IOp& op, const std::vector<int32_t>& bias, int64_t channels,
                OpConsts& c) {
  if (!bias.empty()) {
    std::vector<uint8_t> b;
    for (int32_t v : bias) put_i32(b, v);
    c.bias = place(p, at, std::move(b));
  }
  if (op.rq.per_channel()) {
    std::vector<uint8_t> b;
    for (int64_t o = 0; o < channels; ++o) {
      put_i32(b, op.rq.at(o).m0);
      put_i32(b, op.rq.at(o).shift);
    }
    c.rq = place(p, at, std::move(b));
  }
}

}  // namespace

DdrMap allocate_ddr(const IntGraph& g, Program& p) {
  DdrMap m;
  uint64_t at = 64;  // address 0 stays unused, so 0 can mean "none"
  for (const auto& [name, t] : g.tensors) {
    if (!t.view_of.empty()) continue;
    m.addr[name] = at;
    at = align_up(at + packed_bytes(t.dtype, static_cast<uint64_t>(num_elements(t.shape))), 64);
  }
  place_concat_inputs(g, m);
  for (const auto& [name, t] : g.tensors)
    if (!t.data.empty()) {  // a constant activation: its codes are data at its (final) address
      std::vector<int8_t> codes;
      for (int32_t v : t.data) codes.push_back(static_cast<int8_t>(v));  // uint8 codes wrap to their byte
      p.data.push_back({m.addr.at(name), pack_weights(codes, t.dtype)});
    }
  for (const IOp& op : g.ops) {
    OpConsts c;
    const int64_t channels =
        num_elements(g.tensor(op.output).shape) == 0 ? 0 : g.tensor(op.output).shape.back();
    if (const IConv* cv = op.as<IConv>()) {
      c.weight = place(p, at, pack_weights(cv->weight, cv->w_dtype));
      add_tables(p, at, op, cv->bias, g.tensor(op.output).shape[1], c);
    } else if (const IMatmul* mm = op.as<IMatmul>()) {
      c.weight = place(p, at, pack_weights(mm->weight, mm->w_dtype));
      add_tables(p, at, op, mm->bias, channels, c);
    } else if (const ILut* lut = op.as<ILut>()) {
      std::vector<int8_t> codes;  // every entry fits the output type (int_kernels::lut checks)
      for (int32_t v : lut->table) codes.push_back(static_cast<int8_t>(v));
      c.table = place(p, at, pack_weights(codes, g.tensor(op.output).dtype));
    } else if (const ISoftmax* sm = op.as<ISoftmax>()) {
      std::vector<uint8_t> b;
      for (int32_t v : sm->table) put_i32(b, v);
      c.table = place(p, at, std::move(b));
    } else if (const ILayerNorm* ln = op.as<ILayerNorm>()) {
      std::vector<uint8_t> b;  // (g, b) per feature
      for (size_t k = 0; k < ln->g.size(); ++k) put_i32(b, ln->g[k]), put_i32(b, ln->b[k]);
      c.table = place(p, at, std::move(b));
    } else if (!op.as<IConcat>() && !op.as<IGather>() && !op.as<IRearrange>()) {
      const Shape& s = g.tensor(op.output).shape;
      add_tables(p, at, op, {}, s.size() >= 2 ? s[1] : 1, c);
    }
    m.consts.push_back(c);
  }
  m.end = at;
  return m;
}

}  // namespace tpusim::compiler::be
