// The effect of every instruction, written once as plain C++ over DDR and LMEM byte arrays. The
// SystemC engines and the functional (untimed) simulator both call execute(); the compiler's
// integer reference interpreter is written independently of this file.
//
// Layouts are those of isa/isa_table.h (local tensors: channel c in lane c % lanes; TIU operands
// compact). Per-channel tables live in lane o % lanes at entry o / lanes: conv/matmul weights
// ([ic/groups][kh][kw] resp. [k] per output channel), the int32 bias, and the rq table of int32
// pairs (M0, shift), M0 first.
//
// Accumulation: products are summed exactly (int64) and the sum, bias included, is saturated to
// int32 once per output; each saturation is counted as an accumulator overflow. Eltwise counts one
// overflow per saturating step (rescale of a, of b, the combine).
//
// Contract details beyond the table (check() enforces them, so execute() never relies on luck):
// - Every field must be inside its table width (Instr values built in code are not trusted).
// - Overlap: a TIU output must not overlap any of its inputs (byte footprints), except that an
//   eltwise/requant output may coincide exactly with an input of the same element width (in-place:
//   each output element depends only on the input element at the same index, read before the
//   write). dma.copy source and destination footprints must not overlap at all.
// - DMA destination strides: the destination must not have more elements per lane (LMEM) or in
//   total (DDR) than its footprint has element slots; this rejects many aliasing layouts and bounds
//   the work of any accepted instruction by the memory size. Remaining aliased destination
//   elements are written in n, c, h, w loop order (the last one wins).
// - Pool: every window must hold at least one input element (exact test, not just pad < kernel).
// - Per-channel rq tables are data: execute() validates every entry used (1 <= M0 < 2^31,
//   0 <= shift <= 63) before writing anything and throws Error naming the channel otherwise.
// - Eltwise rescale with shift 63 of an int32 input is computed exactly (see semantics_tiu.cpp).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "isa/isa.h"

namespace tpusim {

// LMEM shape: `lanes` lanes of `lane_bytes` bytes. Byte `off` of lane `l` is lmem[l*lane_bytes+off].
struct Geometry {
  uint32_t lanes = 0;
  uint32_t lane_bytes = 0;
  uint64_t ddr_bytes = 0;
};

struct MemView {
  Geometry geo;
  std::span<uint8_t> ddr;   // geo.ddr_bytes (may be a prefix: accesses past its end are faults)
  std::span<uint8_t> lmem;  // geo.lanes * geo.lane_bytes (a shorter span is refused by execute())
};

enum class Space : uint8_t { Ddr, Lmem };

// One operand's byte footprint. DDR: [lo, hi) bytes. LMEM: [lo, hi) bytes within each of the
// lanes [lane_lo, lane_hi) (a bounding box: the exact set of touched bytes may be sparser); DDR
// accesses have lane_lo = lane_hi = 0.
// Footprints of shapes with a zero dimension are empty (lo == hi, no lanes); values that would not
// fit 64 bits saturate to UINT64_MAX (check() then rejects them).
struct Access {
  const char* operand;  // field name: "src", "weight", "bias", "rq", "table", "a", "b", "dst"
  Space space;
  bool write;
  uint32_t lane_lo, lane_hi;
  uint64_t lo, hi;
  uint64_t bytes;  // packed_bytes(dtype, element count) summed over lanes (traffic statistics)
};

// Footprints of an instruction's operands: inputs in field order, then "dst". The bias appears only
// when has_bias = 1 and the rq table only when rq_per_channel = 1. Empty for sync/end, and for an
// instruction whose fields are out of range or a geometry with no lanes (check() says why).
std::vector<Access> accesses(const Instr& in, const Geometry& geo);

// Static validity of one instruction on a geometry: enum values, non-zero shapes and strides, shape
// consistency (e.g. groups divide ic and oc, output size >= 1, pool windows not all padding), dtype
// rules (weights int8/int4, 4-bit and int32 only where allowed), zero points and clamp_lo <=
// clamp_hi inside their types, int32 operands 4-byte aligned, every footprint inside LMEM/DDR, the
// overlap and aliasing rules above. Returns "" when valid, else "<mnemonic>: <reason>" naming the
// field or operand.
std::string check(const Instr& in, const Geometry& geo);

// Byte counters are the sum of accesses()' `bytes`: reads of every input operand (tables
// included, each counted once per instruction however often the kernel revisits it) and the
// write of the output; DMA counts the source as read and the destination as written.
struct ExecCounters {
  uint64_t macs = 0;           // multiply-accumulates performed (conv/matmul), padding taps included
  uint64_t macs_int4 = 0;      // of those, int4/uint4 input x int4 weight (the int4_speedup rate)
  uint64_t acc_overflows = 0;  // int32 accumulator saturations
  uint64_t ddr_read = 0, ddr_written = 0, lmem_read = 0, lmem_written = 0;  // bytes
};

// Run one instruction. Throws Error with check()'s reason if the instruction is invalid, if a DDR
// footprint runs past the end of mem.ddr, or if an rq table entry is invalid (then nothing is
// written); sync and end have no memory effect here (the controller interprets them).
// Kernels::Fast runs the optimised twins of conv2d, matmul, pool, eltwise, lut (semantics_fast*.cpp)
// and the DMAs; Kernels::Reference the plain loops. Both have the same effect, bit for bit.
enum class Kernels : uint8_t { Fast, Reference };
void execute(const Instr& in, const MemView& mem, ExecCounters& counters, Kernels kernels = Kernels::Fast);

// Output spatial size of a window op: (in + pad_a + pad_b - dil*(k-1) - 1) / stride + 1, or 0 when
// the window does not fit (or k, stride or dil < 1).
int64_t window_out(int64_t in, int64_t pad_a, int64_t pad_b, int64_t k, int64_t stride, int64_t dil);

}  // namespace tpusim
