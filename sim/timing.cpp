#include "sim/timing.h"

#include <algorithm>
#include <optional>

#include "base/int_math.h"
#include "isa/dtype.h"
#include "isa/opcode_traits.h"

namespace tpusim::sim {

namespace {
uint64_t u(int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(v, 0)); }
DType dt(int64_t v) { return static_cast<DType>(v); }
}  // namespace

Geometry geometry(const Arch& a) { return Geometry{a.lanes, a.lane_bytes, a.ddr_bytes}; }

uint64_t dma_bytes(const Instr& in) {
  const auto d = ops::DmaLoad::from(in);  // load, store and copy share one field list
  return packed_bytes(dt(d.dtype), u(d.n) * u(d.c) * u(d.h) * u(d.w));
}

uint64_t ddr_bus_cycles(uint64_t bytes, const Arch& a) { return ceil_div(bytes, a.ddr_bytes_per_cycle); }

uint64_t macs_eff(DType in, DType weight, const Arch& a) {
  return uint64_t{a.macs_per_lane} * (is_4bit(in) && is_4bit(weight) ? a.int4_speedup : 1);
}

// ---- per-opcode timing: one traits row per opcode (isa/opcode_traits.h) ------------------------

namespace {

// The output of a TIU instruction as its requant stage drains it: channels and N*H*W.
struct OutShape {
  uint64_t c, nhw;
};

struct OpTiming {
  Opcode op;
  std::optional<TiuUnit> unit;                     // TIU instructions only
  DmaPhases (*phases)(const Instr&, const Arch&);  // GDMA instructions only
  uint64_t (*cycles)(const Instr&, const Arch&);   // uncontended duration (docs/timing.md)
  OutShape (*output)(const Instr&);                // TIU instructions only: what the requant stage drains
  uint64_t (*macs)(const Instr&);                  // MAC-array instructions only
};

uint64_t no_cycles(const Instr&, const Arch&) { return 0; }

DmaPhases bus_phases(const Instr& in, const Arch& a) {  // load, store: across the DDR bus
  DmaPhases p;
  p.startup = a.gdma_startup;
  p.latency = a.ddr_latency;
  p.bus_bytes = dma_bytes(in);
  return p;
}
DmaPhases copy_phases(const Instr& in, const Arch& a) {  // LMEM to LMEM
  DmaPhases p;
  p.startup = a.gdma_startup;
  p.copy_cycles = ceil_div(dma_bytes(in), a.lmem_copy_bytes_per_cycle);
  return p;
}
uint64_t dma_cycles(const Instr& in, const Arch& a) {
  const DmaPhases p = dma_phases(in, a);
  return p.startup + p.latency + ddr_bus_cycles(p.bus_bytes, a) + p.copy_cycles;
}

uint64_t conv2d_oh(const ops::Conv2d& c) {
  return u(window_out(c.ih, c.pad_t, c.pad_b, c.kh, c.stride_h, c.dil_h));
}
uint64_t conv2d_ow(const ops::Conv2d& c) {
  return u(window_out(c.iw, c.pad_l, c.pad_r, c.kw, c.stride_w, c.dil_w));
}
uint64_t pool_oh(const ops::Pool& p) { return u(window_out(p.ih, p.pad_t, p.pad_b, p.kh, p.stride_h, 1)); }
uint64_t pool_ow(const ops::Pool& p) { return u(window_out(p.iw, p.pad_l, p.pad_r, p.kw, p.stride_w, 1)); }

uint64_t conv2d_cycles(const Instr& in, const Arch& a) {
  const auto c = ops::Conv2d::from(in);
  const uint64_t reduce = u(c.ic) / std::max<uint64_t>(u(c.groups), 1) * u(c.kh) * u(c.kw);
  return a.tiu_startup + ceil_div(u(c.oc), a.lanes) *
                             ceil_div(reduce, macs_eff(dt(c.in_dtype), dt(c.w_dtype), a)) * u(c.n) *
                             conv2d_oh(c) * conv2d_ow(c);
}
OutShape conv2d_output(const Instr& in) {
  const auto c = ops::Conv2d::from(in);
  return {u(c.oc), u(c.n) * conv2d_oh(c) * conv2d_ow(c)};
}
uint64_t conv2d_macs(const Instr& in) {
  const auto c = ops::Conv2d::from(in);
  return u(c.n) * u(c.oc) * conv2d_oh(c) * conv2d_ow(c) * (u(c.ic) / std::max<uint64_t>(u(c.groups), 1)) *
         u(c.kh) * u(c.kw);
}

uint64_t matmul_cycles(const Instr& in, const Arch& a) {
  const auto m = ops::Matmul::from(in);
  return a.tiu_startup +
         ceil_div(u(m.n), a.lanes) * ceil_div(u(m.k), macs_eff(dt(m.in_dtype), dt(m.w_dtype), a)) * u(m.m);
}
OutShape matmul_output(const Instr& in) {
  const auto m = ops::Matmul::from(in);
  return {u(m.n), u(m.m)};
}
uint64_t matmul_macs(const Instr& in) {
  const auto m = ops::Matmul::from(in);
  return u(m.m) * u(m.n) * u(m.k);
}

uint64_t pool_cycles(const Instr& in, const Arch& a) {
  const auto p = ops::Pool::from(in);
  return a.tiu_startup + ceil_div(u(p.c), a.lanes) * u(p.n) * pool_oh(p) * pool_ow(p) *
                             ceil_div(u(p.kh) * u(p.kw), a.macs_per_lane);
}
OutShape pool_output(const Instr& in) {
  const auto p = ops::Pool::from(in);
  return {u(p.c), u(p.n) * pool_oh(p) * pool_ow(p)};
}

// eltwise and requant stream n*h*w elements per channel at the vector width.
template <class Op>
OutShape nchw_output(const Instr& in) {
  const auto v = Op::from(in);
  return {u(v.c), u(v.n) * u(v.h) * u(v.w)};
}
template <class Op>
uint64_t nchw_cycles(const Instr& in, const Arch& a) {
  const OutShape o = nchw_output<Op>(in);
  return a.tiu_startup + ceil_div(o.c, a.lanes) * ceil_div(o.nhw, a.macs_per_lane);
}

// lut: each lane first reads its copy of the table into the vector unit's lookup registers
// (2^bits(in_dtype) entries at macs_per_lane per cycle), then streams n*h*w elements per channel
// like eltwise. It has no requant tail; its output still drains through the output stage.
uint64_t lut_cycles(const Instr& in, const Arch& a) {
  const auto l = ops::Lut::from(in);
  const uint64_t entries = uint64_t{1} << std::min(bits(dt(l.in_dtype)), 8);
  return nchw_cycles<ops::Lut>(in, a) + ceil_div(entries, a.macs_per_lane);
}

// softmax and layernorm: the vector unit streams the tensor once per pass (softmax: max, then
// exp-sum, then divide; layernorm: the two sums, then normalise), each reduction closing with a
// cross-lane adder/max tree of ceil(log2(lanes used)) stages; softmax first loads its exp table as
// lut does, layernorm waits for an integer square root per position (kSqrtCycles, pipelined).
constexpr uint64_t kSqrtCycles = 16;
uint64_t ceil_log2(uint64_t v) {
  uint64_t k = 0;
  while ((uint64_t{1} << k) < v) ++k;
  return k;
}
uint64_t softmax_cycles(const Instr& in, const Arch& a) {
  const auto s = ops::Softmax::from(in);
  const OutShape o = nchw_output<ops::Softmax>(in);
  const uint64_t stream = ceil_div(o.c, a.lanes) * ceil_div(o.nhw, a.macs_per_lane);
  const uint64_t entries = uint64_t{1} << std::min(bits(dt(s.in_dtype)), 8);
  return a.tiu_startup + 3 * stream + 2 * ceil_log2(std::min<uint64_t>(o.c, a.lanes)) +
         ceil_div(entries, a.macs_per_lane);
}
uint64_t layernorm_cycles(const Instr& in, const Arch& a) {
  const OutShape o = nchw_output<ops::Layernorm>(in);
  const uint64_t stream = ceil_div(o.c, a.lanes) * ceil_div(o.nhw, a.macs_per_lane);
  return a.tiu_startup + 2 * stream + 2 * ceil_log2(std::min<uint64_t>(o.c, a.lanes)) + kSqrtCycles;
}

template <Opcode op>
struct Timing {
  static_assert(kMissingTraits<op>,
                "opcode without timing traits: specialize Timing for it in sim/timing.cpp "
                "(docs/adding-an-instruction.md)");
};
// Rows: {op, unit, phases, cycles, output, macs}. end and sync: waiting is counted apart; an id
// outside the ISA table gets the same row.
constexpr OpTiming kNoTiming{Opcode::End, std::nullopt, nullptr, no_cycles, nullptr, nullptr};
template <>
struct Timing<Opcode::End> {
  static constexpr OpTiming value = kNoTiming;
};
template <>
struct Timing<Opcode::Sync> {
  static constexpr OpTiming value{Opcode::Sync, std::nullopt, nullptr, no_cycles, nullptr, nullptr};
};
template <>
struct Timing<Opcode::DmaLoad> {
  static constexpr OpTiming value{Opcode::DmaLoad, std::nullopt, bus_phases, dma_cycles, nullptr, nullptr};
};
template <>
struct Timing<Opcode::DmaStore> {
  static constexpr OpTiming value{Opcode::DmaStore, std::nullopt, bus_phases, dma_cycles, nullptr, nullptr};
};
template <>
struct Timing<Opcode::DmaCopy> {
  static constexpr OpTiming value{Opcode::DmaCopy, std::nullopt, copy_phases, dma_cycles, nullptr, nullptr};
};
template <>
struct Timing<Opcode::Conv2d> {
  static constexpr OpTiming value{Opcode::Conv2d, TiuUnit::MacArray, nullptr,
                                  conv2d_cycles,  conv2d_output,     conv2d_macs};
};
template <>
struct Timing<Opcode::Matmul> {
  static constexpr OpTiming value{Opcode::Matmul, TiuUnit::MacArray, nullptr,
                                  matmul_cycles,  matmul_output,     matmul_macs};
};
template <>
struct Timing<Opcode::Pool> {
  static constexpr OpTiming value{Opcode::Pool, TiuUnit::VectorUnit, nullptr,
                                  pool_cycles,  pool_output,         nullptr};
};
template <>
struct Timing<Opcode::Eltwise> {
  static constexpr OpTiming value{Opcode::Eltwise,           TiuUnit::VectorUnit,       nullptr,
                                  nchw_cycles<ops::Eltwise>, nchw_output<ops::Eltwise>, nullptr};
};
template <>
struct Timing<Opcode::Requant> {
  static constexpr OpTiming value{Opcode::Requant,           TiuUnit::RequantUnit,      nullptr,
                                  nchw_cycles<ops::Requant>, nchw_output<ops::Requant>, nullptr};
};

template <>
struct Timing<Opcode::Lut> {
  static constexpr OpTiming value{Opcode::Lut, TiuUnit::VectorUnit,   nullptr,
                                  lut_cycles,  nchw_output<ops::Lut>, nullptr};
};

template <>
struct Timing<Opcode::Softmax> {
  static constexpr OpTiming value{Opcode::Softmax, TiuUnit::VectorUnit,       nullptr,
                                  softmax_cycles,  nchw_output<ops::Softmax>, nullptr};
};
template <>
struct Timing<Opcode::Layernorm> {
  static constexpr OpTiming value{Opcode::Layernorm, TiuUnit::VectorUnit,         nullptr,
                                  layernorm_cycles,  nchw_output<ops::Layernorm>, nullptr};
};

constexpr auto kTiming = make_op_table<Timing>();

constexpr bool timing_matches_isa() {
  if (!rows_match_isa(kTiming)) return false;
  for (int i = 0; i < kNumOps; ++i) {
    const OpTiming& t = kTiming[i];
    const bool tiu = kOpSpecs[i].engine == Engine::Tiu, gdma = kOpSpecs[i].engine == Engine::Gdma;
    if (t.cycles == nullptr || t.unit.has_value() != tiu || (t.output != nullptr) != tiu) return false;
    if ((t.phases != nullptr) != gdma) return false;
    if ((t.macs != nullptr) != (t.unit == TiuUnit::MacArray)) return false;
  }
  return true;
}
#ifndef TPUSIM_SANITIZE_BUILD  // see cmake/Warnings.cmake
static_assert(
    timing_matches_isa(),
    "kTiming: each row belongs to its opcode and has a cycle formula; gdma rows (only) have phases; "
    "tiu rows (only) a unit and an output for the requant stage; MAC-array rows (only) count MACs");
#endif

const OpTiming& timing_of(Opcode op) {
  const int i = op_index(op);
  return i < 0 ? kNoTiming : kTiming[i];
}

}  // namespace

DmaPhases dma_phases(const Instr& in, const Arch& a) {
  const auto phases = timing_of(in.op).phases;
  return phases ? phases(in, a) : DmaPhases{};
}

TiuUnit tiu_unit(Opcode op) { return timing_of(op).unit.value_or(TiuUnit::VectorUnit); }

const char* tiu_unit_name(TiuUnit un) {
  switch (un) {
    case TiuUnit::MacArray: return "mac_array";
    case TiuUnit::VectorUnit: return "vector_unit";
    case TiuUnit::RequantUnit: return "requant_unit";
  }
  return "?";
}

uint64_t cycles(const Instr& in, const Arch& a) { return timing_of(in.op).cycles(in, a); }

uint64_t requant_stage_cycles(const Instr& in, const Arch& a) {
  const auto output = timing_of(in.op).output;
  if (output == nullptr) return 0;
  const OutShape o = output(in);
  return ceil_div(o.c, a.lanes) * ceil_div(o.nhw, a.macs_per_lane);
}

uint64_t macs(const Instr& in) {
  const auto f = timing_of(in.op).macs;
  return f ? f(in) : 0;
}

uint64_t bank_bytes(const Arch& a) { return std::max<uint64_t>(a.lane_bytes / a.banks_per_lane, 1); }

namespace {
bool lanes_meet(const Access& x, const Access& y) { return x.lane_lo < y.lane_hi && y.lane_lo < x.lane_hi; }
}  // namespace

bool share_bank(const Access& x, const Access& y, const Arch& a) {
  if (!lanes_meet(x, y) || x.hi <= x.lo || y.hi <= y.lo) return false;
  const uint64_t bb = bank_bytes(a);
  return x.lo / bb <= (y.hi - 1) / bb && y.lo / bb <= (x.hi - 1) / bb;
}

bool share_bytes(const Access& x, const Access& y) { return lanes_meet(x, y) && x.lo < y.hi && y.lo < x.hi; }

std::vector<Access> lmem_accesses(const Instr& in, const Geometry& geo) {
  std::vector<Access> all = accesses(in, geo);
  std::erase_if(all, [](const Access& x) { return x.space != Space::Lmem; });
  return all;
}

uint64_t conflict_pairs(const Instr& in, const Arch& a) {
  if (spec(in.op).engine != Engine::Tiu) return 0;
  const std::vector<Access> acc = lmem_accesses(in, geometry(a));
  uint64_t pairs = 0;
  for (size_t i = 0; i < acc.size(); ++i)
    for (size_t j = i + 1; j < acc.size(); ++j) pairs += share_bank(acc[i], acc[j], a) ? 1 : 0;
  return pairs;
}

uint64_t tiu_duration(const Instr& in, const Arch& a) {
  return cycles(in, a) + uint64_t{a.bank_conflict_cycles} * conflict_pairs(in, a);
}

}  // namespace tpusim::sim
