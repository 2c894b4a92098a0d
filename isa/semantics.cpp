// Instruction semantics: operand layouts and footprints, accesses() and the execute() dispatcher.
// The checker is in semantics_check.cpp, the kernels in semantics_tiu.cpp, semantics_dma.cpp and
// semantics_fast.cpp; isa/opcode_traits_semantics.h ties them to the opcodes.
#include "isa/semantics.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "base/error.h"
#include "isa/opcode_traits_semantics.h"

namespace tpusim {

int64_t window_out(int64_t in, int64_t pad_a, int64_t pad_b, int64_t k, int64_t stride, int64_t dil) {
  if (k < 1 || stride < 1 || dil < 1) return 0;
  const int64_t span = dil * (k - 1) + 1;  // extent of one window
  const int64_t padded = in + pad_a + pad_b;
  if (padded < span) return 0;
  return (padded - span) / stride + 1;
}

namespace sem {

Tensor compact(const char* operand, bool write, uint64_t addr, DType t, uint64_t n, uint64_t c, uint64_t h,
               uint64_t w, uint32_t lanes) {
  const uint64_t plane = h * w;  // <= 2^32: h, w are 16-bit fields
  const uint64_t groups = (c + lanes - 1) / lanes;
  return Tensor{operand, Space::Lmem, write, addr, t, n, c, h, w, groups * plane, plane, w, 1};
}

Tensor channel_table(const char* operand, uint64_t addr, DType t, uint64_t channels, uint64_t entries) {
  // n = h = 1, so their strides never multiply anything.
  return Tensor{operand, Space::Lmem, false, addr, t, 1, channels, 1, entries, 0, entries, 0, 1};
}

const Tensor* Operands::find(std::string_view operand) const {
  for (const Tensor& t : list)
    if (operand == t.operand) return &t;
  return nullptr;
}

namespace {

DType dt(int64_t v) { return static_cast<DType>(v); }
uint64_t u(int64_t v) { return static_cast<uint64_t>(v); }

// Optional per-channel tables of the conv/matmul/pool/eltwise/requant instructions.
template <class Op>
void add_rq_table(Operands& o, const Op& op, uint64_t channels) {
  if (op.rq_per_channel) o.list.push_back(channel_table("rq", u(op.rq), DType::Int32, channels, 2));
}

// dma.load, dma.store and dma.copy share TPUSIM_FIELDS_DMA; only the memory spaces differ.
Operands dma_operands(const Instr& in, Space src, Space dst) {
  const auto d = ops::DmaLoad::from(in);
  Operands o;
  o.list.push_back({"src", src, false, u(d.src), dt(d.dtype), u(d.n), u(d.c), u(d.h), u(d.w), u(d.src_sn),
                    u(d.src_sc), u(d.src_sh), u(d.src_sw)});
  o.list.push_back({"dst", dst, true, u(d.dst), dt(d.dtype), u(d.n), u(d.c), u(d.h), u(d.w), u(d.dst_sn),
                    u(d.dst_sc), u(d.dst_sh), u(d.dst_sw)});
  return o;
}
}  // namespace

Operands operands(const Instr& in, uint32_t lanes) {
  const OperandsFn f = semantics_of(in.op).operands;
  return f ? f(in, lanes) : Operands{};
}

Operands operands_dma_load(const Instr& in, uint32_t) { return dma_operands(in, Space::Ddr, Space::Lmem); }
Operands operands_dma_store(const Instr& in, uint32_t) { return dma_operands(in, Space::Lmem, Space::Ddr); }
Operands operands_dma_copy(const Instr& in, uint32_t) { return dma_operands(in, Space::Lmem, Space::Lmem); }

Operands operands_conv2d(const Instr& in, uint32_t lanes) {
  const auto c = ops::Conv2d::from(in);
  const int64_t oh = window_out(c.ih, c.pad_t, c.pad_b, c.kh, c.stride_h, c.dil_h);
  const int64_t ow = window_out(c.iw, c.pad_l, c.pad_r, c.kw, c.stride_w, c.dil_w);
  const uint64_t taps = c.groups >= 1 ? u(c.ic / c.groups * c.kh * c.kw) : 0;
  Operands o;
  o.list.push_back(compact("src", false, u(c.src), dt(c.in_dtype), u(c.n), u(c.ic), u(c.ih), u(c.iw), lanes));
  o.list.push_back(channel_table("weight", u(c.weight), dt(c.w_dtype), u(c.oc), taps));
  if (c.has_bias) o.list.push_back(channel_table("bias", u(c.bias), DType::Int32, u(c.oc), 1));
  add_rq_table(o, c, u(c.oc));
  o.list.push_back(compact("dst", true, u(c.dst), dt(c.out_dtype), u(c.n), u(c.oc), u(oh), u(ow), lanes));
  return o;
}

Operands operands_matmul(const Instr& in, uint32_t lanes) {
  const auto mm = ops::Matmul::from(in);
  Operands o;
  o.list.push_back(compact("src", false, u(mm.src), dt(mm.in_dtype), u(mm.m), u(mm.k), 1, 1, lanes));
  o.list.push_back(channel_table("weight", u(mm.weight), dt(mm.w_dtype), u(mm.n), u(mm.k)));
  if (mm.has_bias) o.list.push_back(channel_table("bias", u(mm.bias), DType::Int32, u(mm.n), 1));
  add_rq_table(o, mm, u(mm.n));
  o.list.push_back(compact("dst", true, u(mm.dst), dt(mm.out_dtype), u(mm.m), u(mm.n), 1, 1, lanes));
  return o;
}

Operands operands_pool(const Instr& in, uint32_t lanes) {
  const auto p = ops::Pool::from(in);
  const int64_t oh = window_out(p.ih, p.pad_t, p.pad_b, p.kh, p.stride_h, 1);
  const int64_t ow = window_out(p.iw, p.pad_l, p.pad_r, p.kw, p.stride_w, 1);
  Operands o;
  o.list.push_back(compact("src", false, u(p.src), dt(p.in_dtype), u(p.n), u(p.c), u(p.ih), u(p.iw), lanes));
  add_rq_table(o, p, u(p.c));
  o.list.push_back(compact("dst", true, u(p.dst), dt(p.out_dtype), u(p.n), u(p.c), u(oh), u(ow), lanes));
  return o;
}

Operands operands_eltwise(const Instr& in, uint32_t lanes) {
  const auto e = ops::Eltwise::from(in);
  Operands o;
  o.list.push_back(compact("a", false, u(e.a), dt(e.a_dtype), u(e.n), u(e.c), u(e.h), u(e.w), lanes));
  o.list.push_back(compact("b", false, u(e.b), dt(e.b_dtype), u(e.n), u(e.c), u(e.h), u(e.w), lanes));
  add_rq_table(o, e, u(e.c));
  o.list.push_back(compact("dst", true, u(e.dst), dt(e.out_dtype), u(e.n), u(e.c), u(e.h), u(e.w), lanes));
  return o;
}

Operands operands_requant(const Instr& in, uint32_t lanes) {
  const auto r = ops::Requant::from(in);
  Operands o;
  o.list.push_back(compact("src", false, u(r.src), dt(r.in_dtype), u(r.n), u(r.c), u(r.h), u(r.w), lanes));
  add_rq_table(o, r, u(r.c));
  o.list.push_back(compact("dst", true, u(r.dst), dt(r.out_dtype), u(r.n), u(r.c), u(r.h), u(r.w), lanes));
  return o;
}

uint64_t lut_entries(DType in) { return uint64_t{1} << bits(in); }

Operands operands_lut(const Instr& in, uint32_t lanes) {
  const auto l = ops::Lut::from(in);
  Operands o;
  o.list.push_back(compact("src", false, u(l.src), dt(l.in_dtype), u(l.n), u(l.c), u(l.h), u(l.w), lanes));
  // The same table in every lane the instruction touches: [1, min(c, lanes), 1, entries].
  const uint64_t entries =
      bits(dt(l.in_dtype)) <= 8 ? lut_entries(dt(l.in_dtype)) : 0;  // int32: check() rejects
  o.list.push_back(
      channel_table("table", u(l.table), dt(l.out_dtype), std::min<uint64_t>(u(l.c), lanes), entries));
  o.list.push_back(compact("dst", true, u(l.dst), dt(l.out_dtype), u(l.n), u(l.c), u(l.h), u(l.w), lanes));
  return o;
}

Footprint footprint(const Tensor& t, uint32_t lanes) {
  Footprint f{t.addr, t.addr, 0, 0, 0, 0};
  if (t.n == 0 || t.c == 0 || t.h == 0 || t.w == 0) return f;
  const bool local = t.space == Space::Lmem;
  const u128 cgroups = local ? (t.c + lanes - 1) / lanes : t.c;
  const u128 max_index =
      u128{t.n - 1} * t.sn + (cgroups - 1) * t.sc + u128{t.h - 1} * t.sh + u128{t.w - 1} * t.sw;
  const int b = bits(t.dtype);
  f.hi = t.addr + ((max_index + 1) * b + 7) / 8;
  f.lanes = local ? std::min<uint64_t>(t.c, lanes) : 0;
  f.elements = u128{t.n} * t.c * t.h * t.w;
  f.slots = max_index + 1;
  f.elements_per_lane = u128{t.n} * cgroups * t.h * t.w;
  return f;
}

std::string field_range_error(const Instr& in) {
  const OpSpec* s = find_spec(static_cast<uint8_t>(in.op));
  if (s == nullptr) return fmt::format("unknown opcode 0x{:02x}", static_cast<int>(in.op));
  for (int i = 0; i < s->nfields; ++i) {
    const FieldSpec& f = s->fields[i];
    if (!field_value_ok(f, in.f[i]))
      return fmt::format("{}: field {} value {} out of range [{}, {}]", s->mnemonic, f.name, in.f[i],
                         field_min(f), field_max(f));
  }
  return "";
}

}  // namespace sem

std::vector<Access> accesses(const Instr& in, const Geometry& geo) {
  std::vector<Access> out;
  if (geo.lanes == 0 || !sem::field_range_error(in).empty()) return out;
  const auto sat64 = [](sem::u128 v) {
    return v > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                    : static_cast<uint64_t>(v);
  };
  for (const sem::Tensor& t : sem::operands(in, geo.lanes).list) {
    const sem::Footprint f = sem::footprint(t, geo.lanes);
    out.push_back(Access{t.operand, t.space, t.write, 0, f.lanes, sat64(f.lo), sat64(f.hi),
                         sat64((f.elements * bits(t.dtype) + 7) / 8)});
  }
  return out;
}

void execute(const Instr& in, const MemView& mem, ExecCounters& counters, Kernels kernels) {
  if (std::string why = check(in, mem.geo); !why.empty()) throw Error(why);
  const sem::OpSemantics& op = sem::semantics_of(in.op);
  if (op.reference == nullptr) return;  // end, sync: the controller's business
  const char* mnemonic = spec(in.op).mnemonic;
  const uint64_t lmem_bytes = uint64_t{mem.geo.lanes} * mem.geo.lane_bytes;
  if (mem.lmem.size() < lmem_bytes)
    throw Error(fmt::format("{}: LMEM span of {} bytes is smaller than {} lanes x {} bytes", mnemonic,
                            mem.lmem.size(), mem.geo.lanes, mem.geo.lane_bytes));
  const std::vector<Access> acc = accesses(in, mem.geo);
  for (const Access& a : acc)
    if (a.space == Space::Ddr && a.hi > mem.ddr.size())
      throw Error(fmt::format("{}: {} footprint [{:#x}, {:#x}) runs past the end of DDR memory ({:#x} bytes)",
                              mnemonic, a.operand, a.lo, a.hi, mem.ddr.size()));
  (kernels == Kernels::Reference ? op.reference : op.fast)(in, mem, counters);
  for (const Access& a : acc) {
    uint64_t& counter = a.space == Space::Ddr ? (a.write ? counters.ddr_written : counters.ddr_read)
                                              : (a.write ? counters.lmem_written : counters.lmem_read);
    counter += a.bytes;
  }
}

}  // namespace tpusim
