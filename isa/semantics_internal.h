// Internals shared by isa/semantics*.cpp: operand layouts (written once, used by the footprints,
// the checker and the kernels), the requant tail, and the per-opcode pieces that
// isa/opcode_traits_semantics.h assembles into one row per opcode.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isa/dtype.h"
#include "isa/semantics.h"

namespace tpusim::sem {

using u128 = unsigned __int128;  // footprint arithmetic: fields up to 2^40 times strides up to 2^32

// One tensor operand: element (n, c, h, w) lives at element index n*sn + cg*sc + h*sh + w*sw from
// byte `addr`, with cg = c / lanes in lane c % lanes (LMEM) or cg = c (DDR).
struct Tensor {
  const char* operand;
  Space space;
  bool write;
  uint64_t addr;
  DType dtype;
  uint64_t n, c, h, w;
  uint64_t sn, sc, sh, sw;
};

// A compact local tensor [n, c, h, w]: sw = 1, sh = w, sc = h*w, sn = ceil(c/lanes)*h*w.
Tensor compact(const char* operand, bool write, uint64_t addr, DType t, uint64_t n, uint64_t c, uint64_t h,
               uint64_t w, uint32_t lanes);
// A per-channel table of `entries` elements per channel (weights, bias, rq), channel o at entry
// (o / lanes) * entries of lane o % lanes: the tensor [1, channels, 1, entries].
Tensor channel_table(const char* operand, uint64_t addr, DType t, uint64_t channels, uint64_t entries);

// The operands of an instruction (see accesses() for the order). Requires fields in range and
// lanes >= 1. operands() dispatches to the per-opcode operands_*() below (none for end and sync).
struct Operands {
  std::vector<Tensor> list;
  const Tensor* find(std::string_view operand) const;
  const Tensor& get(std::string_view operand) const { return *find(operand); }
};
Operands operands(const Instr& in, uint32_t lanes);
Operands operands_dma_load(const Instr& in, uint32_t lanes);
Operands operands_dma_store(const Instr& in, uint32_t lanes);
Operands operands_dma_copy(const Instr& in, uint32_t lanes);
Operands operands_conv2d(const Instr& in, uint32_t lanes);
Operands operands_matmul(const Instr& in, uint32_t lanes);
Operands operands_pool(const Instr& in, uint32_t lanes);
Operands operands_eltwise(const Instr& in, uint32_t lanes);
Operands operands_requant(const Instr& in, uint32_t lanes);
// lut: src, table (the same 2^bits(in_dtype) entries of out_dtype in each of min(c, lanes) lanes), dst.
Operands operands_lut(const Instr& in, uint32_t lanes);
// Entries of a lut table for 8- and 4-bit input types: 2^bits(in).
uint64_t lut_entries(DType in);
// softmax: src, table (2^bits(in_dtype) int32 entries in each of min(c, lanes) lanes), [rq], dst;
// layernorm: src, params (int32 pairs (g, b) per channel), [rq], dst (semantics_norm.cpp).
Operands operands_softmax(const Instr& in, uint32_t lanes);
Operands operands_layernorm(const Instr& in, uint32_t lanes);

// Field rules of check() per opcode (semantics_check.cpp), run before the footprint rules:
// "" or "<mnemonic>: <reason>".
std::string check_dma(const Instr& in, const char* mnemonic);
std::string check_conv2d(const Instr& in, const char* mnemonic);
std::string check_matmul(const Instr& in, const char* mnemonic);
std::string check_pool(const Instr& in, const char* mnemonic);
std::string check_eltwise(const Instr& in, const char* mnemonic);
std::string check_requant(const Instr& in, const char* mnemonic);
std::string check_lut(const Instr& in, const char* mnemonic);
std::string check_softmax(const Instr& in, const char* mnemonic);
std::string check_layernorm(const Instr& in, const char* mnemonic);

// Bounding footprint of a tensor, exact in 128 bits.
struct Footprint {
  u128 lo, hi;             // bytes (within each lane for LMEM)
  uint32_t lanes;          // lanes [0, lanes) touched (0 for DDR and for empty tensors)
  u128 elements;           // n*c*h*w
  u128 slots;              // element slots in [lo, hi) per lane: max element index + 1
  u128 elements_per_lane;  // elements in the fullest lane (lane 0) for LMEM, all for DDR
};
Footprint footprint(const Tensor& t, uint32_t lanes);

// "" when every field of `in` is inside its table width, else the reason.
std::string field_range_error(const Instr& in);

// The (n, c) plane of a tensor in memory: element (h, w) is load/store_elem(base, index + h*sh + w*sw).
struct Plane {
  uint8_t* base;
  uint64_t index;
};
inline Plane plane(const Tensor& t, const MemView& m, uint64_t n, uint64_t c) {
  if (t.space == Space::Ddr) return {m.ddr.data() + t.addr, n * t.sn + c * t.sc};
  const uint32_t lanes = m.geo.lanes;
  return {m.lmem.data() + uint64_t{c % lanes} * m.geo.lane_bytes + t.addr, n * t.sn + (c / lanes) * t.sc};
}

// The requant tail shared by every TIU instruction (TPUSIM_FIELDS_REQUANT), by name.
struct RequantFields {
  int64_t out_dtype, out_zp, rq_per_channel, rq, m0, shift, clamp_lo, clamp_hi;
};
template <class Op>
RequantFields requant_fields(const Op& op) {
  return {op.out_dtype, op.out_zp, op.rq_per_channel, op.rq, op.m0, op.shift, op.clamp_lo, op.clamp_hi};
}

// The requant tail decoded once per instruction: (M0, shift) per channel or per tensor.
struct Requantizer {
  int32_t zp, lo, hi;
  bool per_channel;
  std::vector<int32_t> m0;  // one entry per channel, or one for per-tensor
  std::vector<int> shift;
  int32_t apply(int32_t acc, uint64_t channel) const;
};
// Reads and validates the rq table when per-channel: throws Error "<mnemonic>: rq table channel
// <o>: ..." for an entry outside 1 <= M0, 0 <= shift <= 63.
Requantizer make_requantizer(const RequantFields& f, const Operands& ops, const MemView& m, uint64_t channels,
                             const char* mnemonic);

// Saturates an exact sum to int32, counting the overflow.
int32_t saturate_acc(int64_t v, ExecCounters& counters);
// The int32 bias per output channel, zeros when the instruction has none.
std::vector<int32_t> read_bias(const Operands& ops, const MemView& m, uint64_t channels);

// Reference kernels. One signature for all (the table stores pointers to them): the DMA moves
// bytes only and leaves the counters to execute().
void exec_dma(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_conv2d(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_matmul(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_pool(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_eltwise(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_requant(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_lut(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_softmax(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_layernorm(const Instr& in, const MemView& m, ExecCounters& counters);

// Optimised twins (semantics_fast.cpp, semantics_fast_pool.cpp, semantics_fast_eltwise_lut.cpp,
// semantics_dma.cpp), on the SIMD kernels of isa/simd_kernels.h and isa/simd_eltwise_lut.h. conv2d and matmul
// run the reference kernel themselves when the shape is outside their int32-exact range.
void exec_conv2d_fast(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_matmul_fast(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_dma_fast(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_eltwise_fast(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_lut_fast(const Instr& in, const MemView& m, ExecCounters& counters);
void exec_pool_fast(const Instr& in, const MemView& m, ExecCounters& counters);

}  // namespace tpusim::sem
