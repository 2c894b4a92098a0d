// check(): the static validity rules of every instruction (see isa/semantics.h). Rules run in a
// fixed order — geometry, field widths, shapes, dtypes and scalars, then footprints, alignment,
// overlap — and the first failure is reported. Messages are formatted only on failure.
#include <fmt/format.h>

#include <initializer_list>
#include <string_view>
#include <utility>

#include "isa/opcode_traits_semantics.h"
#include "isa/semantics.h"

namespace tpusim {
namespace {

using sem::u128;

template <class... Args>
std::string fail(const char* mnemonic, fmt::format_string<Args...> format, Args&&... args) {
  return fmt::format("{}: {}", mnemonic, fmt::format(format, std::forward<Args>(args)...));
}

// Hex for 128-bit footprint bounds (only hostile instructions exceed 64 bits).
std::string hex(u128 v) {
  const auto hi = static_cast<uint64_t>(v >> 64), lo = static_cast<uint64_t>(v);
  return hi ? fmt::format("{:#x}{:016x}", hi, lo) : fmt::format("{:#x}", lo);
}

using Named = std::pair<const char*, int64_t>;

std::string require_positive(const char* mn, std::initializer_list<Named> values) {
  for (const auto& [name, v] : values)
    if (v < 1) return fail(mn, "{} {} must be >= 1", name, v);
  return "";
}

std::string require_in_type(const char* mn, const char* name, int64_t v, const char* type_field, int64_t t) {
  const DTypeTraits& tr = traits(static_cast<DType>(t));
  if (v < tr.qmin || v > tr.qmax)
    return fail(mn, "{} {} outside {} {} range [{}, {}]", name, v, type_field, tr.name, tr.qmin, tr.qmax);
  return "";
}

// Inputs of the MAC array and the pool unit are 8- or 4-bit activations.
std::string require_narrow_input(const char* mn, const char* name, int64_t t) {
  const auto d = static_cast<DType>(t);
  if (d == DType::Int32) return fail(mn, "{} int32 not allowed (int8, uint8, int4 or uint4)", name);
  return "";
}

std::string require_weight_type(const char* mn, int64_t t) {
  const auto d = static_cast<DType>(t);
  if (d != DType::Int8 && d != DType::Int4)
    return fail(mn, "w_dtype {} not allowed (weights are int8 or int4)", name(d));
  return "";
}

std::string check_requant_tail(const char* mn, const sem::RequantFields& f) {
  if (auto e = require_in_type(mn, "out_zp", f.out_zp, "out_dtype", f.out_dtype); !e.empty()) return e;
  if (auto e = require_in_type(mn, "clamp_lo", f.clamp_lo, "out_dtype", f.out_dtype); !e.empty()) return e;
  if (auto e = require_in_type(mn, "clamp_hi", f.clamp_hi, "out_dtype", f.out_dtype); !e.empty()) return e;
  if (f.clamp_lo > f.clamp_hi) return fail(mn, "clamp_lo {} > clamp_hi {}", f.clamp_lo, f.clamp_hi);
  if (!f.rq_per_channel && f.m0 < 1) return fail(mn, "m0 {} must be >= 1 (per-tensor requant)", f.m0);
  return "";
}

std::string check_output_size(const char* mn, const char* axis, int64_t in, int64_t pa, int64_t pb, int64_t k,
                              int64_t stride, int64_t dil) {
  if (window_out(in, pa, pb, k, stride, dil) >= 1) return "";
  return fail(mn, "output {} is 0 (input {} + padding {} < window {})", axis, in, pa + pb, dil * (k - 1) + 1);
}

// Field names of one axis of a window op.
struct Axis {
  const char *pad_a, *pad_b, *k, *in;
};
constexpr Axis kRows{"pad_t", "pad_b", "kh", "ih"}, kCols{"pad_l", "pad_r", "kw", "iw"};

// Every window of a pool axis must hold an input element: the first starts at -pad_a, the last at
// (out-1)*stride - pad_a; any window in between lies within those bounds.
std::string check_pool_windows(const char* mn, const Axis& axis, int64_t in, int64_t pad_a, int64_t pad_b,
                               int64_t k, int64_t stride, int64_t out) {
  if (pad_a >= k)
    return fail(mn, "window has no element inside the input ({} {} >= {} {})", axis.pad_a, pad_a, axis.k, k);
  const int64_t last_start = (out - 1) * stride - pad_a;
  if (last_start >= in)
    return fail(mn, "window has no element inside the input (last window starts at {} >= {} {}; {} {})",
                last_start, axis.in, in, axis.pad_b, pad_b);
  return "";
}

}  // namespace

// Field rules per opcode: the `check` of each row of isa/opcode_traits_semantics.h.
namespace sem {

// Source strides may be 0: the GDMA then reads one element many times (broadcast, table
// replication). Destination strides may not (the aliasing rule would reject them anyway).
std::string check_dma(const Instr& in, const char* mn) {
  const auto d = ops::DmaLoad::from(in);
  return require_positive(mn, {{"n", d.n},
                               {"c", d.c},
                               {"h", d.h},
                               {"w", d.w},
                               {"dst_sn", d.dst_sn},
                               {"dst_sc", d.dst_sc},
                               {"dst_sh", d.dst_sh},
                               {"dst_sw", d.dst_sw}});
}

std::string check_conv2d(const Instr& in, const char* mn) {
  const auto c = ops::Conv2d::from(in);
  std::string e = require_positive(mn, {{"n", c.n},
                                        {"ic", c.ic},
                                        {"ih", c.ih},
                                        {"iw", c.iw},
                                        {"oc", c.oc},
                                        {"kh", c.kh},
                                        {"kw", c.kw},
                                        {"stride_h", c.stride_h},
                                        {"stride_w", c.stride_w},
                                        {"dil_h", c.dil_h},
                                        {"dil_w", c.dil_w},
                                        {"groups", c.groups}});
  if (!e.empty()) return e;
  if (c.ic % c.groups) return fail(mn, "groups {} does not divide ic {}", c.groups, c.ic);
  if (c.oc % c.groups) return fail(mn, "groups {} does not divide oc {}", c.groups, c.oc);
  if (!(e = check_output_size(mn, "height", c.ih, c.pad_t, c.pad_b, c.kh, c.stride_h, c.dil_h)).empty())
    return e;
  if (!(e = check_output_size(mn, "width", c.iw, c.pad_l, c.pad_r, c.kw, c.stride_w, c.dil_w)).empty())
    return e;
  if (!(e = require_narrow_input(mn, "in_dtype", c.in_dtype)).empty()) return e;
  if (!(e = require_weight_type(mn, c.w_dtype)).empty()) return e;
  if (!(e = require_in_type(mn, "in_zp", c.in_zp, "in_dtype", c.in_dtype)).empty()) return e;
  return check_requant_tail(mn, sem::requant_fields(c));
}

std::string check_matmul(const Instr& in, const char* mn) {
  const auto m = ops::Matmul::from(in);
  std::string e = require_positive(mn, {{"m", m.m}, {"k", m.k}, {"n", m.n}});
  if (!e.empty()) return e;
  if (!(e = require_narrow_input(mn, "in_dtype", m.in_dtype)).empty()) return e;
  if (!(e = require_weight_type(mn, m.w_dtype)).empty()) return e;
  if (!(e = require_in_type(mn, "in_zp", m.in_zp, "in_dtype", m.in_dtype)).empty()) return e;
  return check_requant_tail(mn, sem::requant_fields(m));
}

std::string check_pool(const Instr& in, const char* mn) {
  const auto p = ops::Pool::from(in);
  std::string e = require_positive(mn, {{"n", p.n},
                                        {"c", p.c},
                                        {"ih", p.ih},
                                        {"iw", p.iw},
                                        {"kh", p.kh},
                                        {"kw", p.kw},
                                        {"stride_h", p.stride_h},
                                        {"stride_w", p.stride_w}});
  if (!e.empty()) return e;
  if (!(e = check_output_size(mn, "height", p.ih, p.pad_t, p.pad_b, p.kh, p.stride_h, 1)).empty()) return e;
  if (!(e = check_output_size(mn, "width", p.iw, p.pad_l, p.pad_r, p.kw, p.stride_w, 1)).empty()) return e;
  const int64_t oh = window_out(p.ih, p.pad_t, p.pad_b, p.kh, p.stride_h, 1);
  const int64_t ow = window_out(p.iw, p.pad_l, p.pad_r, p.kw, p.stride_w, 1);
  if (!(e = check_pool_windows(mn, kRows, p.ih, p.pad_t, p.pad_b, p.kh, p.stride_h, oh)).empty()) return e;
  if (!(e = check_pool_windows(mn, kCols, p.iw, p.pad_l, p.pad_r, p.kw, p.stride_w, ow)).empty()) return e;
  if (!(e = require_narrow_input(mn, "in_dtype", p.in_dtype)).empty()) return e;
  if (!(e = require_in_type(mn, "in_zp", p.in_zp, "in_dtype", p.in_dtype)).empty()) return e;
  return check_requant_tail(mn, sem::requant_fields(p));
}

std::string check_eltwise(const Instr& in, const char* mn) {
  const auto el = ops::Eltwise::from(in);
  std::string e = require_positive(
      mn, {{"n", el.n}, {"c", el.c}, {"h", el.h}, {"w", el.w}, {"a_m0", el.a_m0}, {"b_m0", el.b_m0}});
  if (!e.empty()) return e;
  if (!(e = require_in_type(mn, "a_zp", el.a_zp, "a_dtype", el.a_dtype)).empty()) return e;
  if (!(e = require_in_type(mn, "b_zp", el.b_zp, "b_dtype", el.b_dtype)).empty()) return e;
  return check_requant_tail(mn, sem::requant_fields(el));
}

std::string check_requant(const Instr& in, const char* mn) {
  const auto r = ops::Requant::from(in);
  std::string e = require_positive(mn, {{"n", r.n}, {"c", r.c}, {"h", r.h}, {"w", r.w}});
  if (!e.empty()) return e;
  if (!(e = require_in_type(mn, "in_zp", r.in_zp, "in_dtype", r.in_dtype)).empty()) return e;
  return check_requant_tail(mn, sem::requant_fields(r));
}

std::string check_lut(const Instr& in, const char* mn) {
  const auto l = ops::Lut::from(in);
  std::string e = require_positive(mn, {{"n", l.n}, {"c", l.c}, {"h", l.h}, {"w", l.w}});
  if (!e.empty()) return e;
  if (!(e = require_narrow_input(mn, "in_dtype", l.in_dtype)).empty()) return e;
  return require_narrow_input(mn, "out_dtype", l.out_dtype);
}

// softmax and layernorm: 8/4-bit input, a per-tensor requant tail.
template <class Op>
std::string check_reduction(const Op& r, const char* mn) {
  std::string e = require_positive(mn, {{"n", r.n}, {"c", r.c}, {"h", r.h}, {"w", r.w}});
  if (!e.empty()) return e;
  if (!(e = require_narrow_input(mn, "in_dtype", r.in_dtype)).empty()) return e;
  if (r.rq_per_channel) return fail(mn, "rq_per_channel must be 0 (one multiplier for the tensor)");
  return check_requant_tail(mn, sem::requant_fields(r));
}
std::string check_softmax(const Instr& in, const char* mn) {
  return check_reduction(ops::Softmax::from(in), mn);
}
std::string check_layernorm(const Instr& in, const char* mn) {
  return check_reduction(ops::Layernorm::from(in), mn);
}

}  // namespace sem

namespace {

bool overlaps(const sem::Footprint& a, const sem::Footprint& b) { return a.lo < b.hi && b.lo < a.hi; }

// Footprints inside memory, int32 alignment, DMA destination aliasing, output/input overlap.
std::string check_operands(const Instr& in, const Geometry& geo, const char* mn) {
  const sem::Operands ops = sem::operands(in, geo.lanes);
  for (const sem::Tensor& t : ops.list) {
    const sem::Footprint f = sem::footprint(t, geo.lanes);
    if (t.space == Space::Lmem && f.hi > geo.lane_bytes)
      return fail(mn, "{} footprint [{}, {}) exceeds lane size {:#x}", t.operand, hex(f.lo), hex(f.hi),
                  geo.lane_bytes);
    if (t.space == Space::Ddr && f.hi > geo.ddr_bytes)
      return fail(mn, "{} footprint [{}, {}) exceeds DDR size {:#x}", t.operand, hex(f.lo), hex(f.hi),
                  geo.ddr_bytes);
    if (t.dtype == DType::Int32 && t.addr % 4)
      return fail(mn, "{} address {:#x} of an int32 operand is not 4-byte aligned", t.operand, t.addr);
    if (t.write && f.elements_per_lane > f.slots)
      return fail(mn, "{} strides alias: {} elements{} in {} element slots", t.operand,
                  static_cast<uint64_t>(f.elements_per_lane), t.space == Space::Lmem ? " per lane" : "",
                  static_cast<uint64_t>(f.slots));
  }
  const sem::Tensor* dst = ops.find("dst");
  if (dst == nullptr || dst->space == Space::Ddr) return "";  // dma.store: DDR and LMEM never overlap
  const sem::Footprint fd = sem::footprint(*dst, geo.lanes);
  const bool in_place_ok = sem::semantics_of(in.op).in_place;
  for (const sem::Tensor& t : ops.list) {
    if (&t == dst || t.space != Space::Lmem) continue;
    const sem::Footprint ft = sem::footprint(t, geo.lanes);
    if (!overlaps(fd, ft)) continue;
    const std::string_view name(t.operand);
    const bool data_input = name != "rq" && name != "table";  // tables are never in place
    if (in_place_ok && data_input && t.addr == dst->addr && bits(t.dtype) == bits(dst->dtype)) continue;
    return fail(mn, "dst [{}, {}) overlaps {} [{}, {}){}", hex(fd.lo), hex(fd.hi), t.operand, hex(ft.lo),
                hex(ft.hi), in_place_ok ? " (in place needs the same offset and element width)" : "");
  }
  return "";
}

}  // namespace

std::string check(const Instr& in, const Geometry& geo) {
  if (std::string e = sem::field_range_error(in); !e.empty()) return e;
  const char* mn = spec(in.op).mnemonic;
  const sem::CheckFn check_fields = sem::semantics_of(in.op).check;
  if (check_fields == nullptr) return "";  // end, sync: nothing to check beyond the field widths
  if (geo.lanes < 1 || geo.lane_bytes < 1)
    return fail(mn, "geometry has {} lanes of {} bytes (both must be >= 1)", geo.lanes, geo.lane_bytes);
  if (std::string e = check_fields(in, mn); !e.empty()) return e;
  return check_operands(in, geo, mn);
}

}  // namespace tpusim
