// The effect of every instruction, written once as plain C++ over DDR and LMEM byte arrays. The
// SystemC engines and the functional (untimed) simulator both call execute(); the compiler's
// integer reference interpreter is written independently of this file.
//
// Accumulation: products are summed exactly (int64) and the sum, bias included, is saturated to
// int32 once per output; each saturation is counted as an accumulator overflow.
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
  std::span<uint8_t> lmem;  // geo.lanes * geo.lane_bytes
};

enum class Space : uint8_t { Ddr, Lmem };

// One operand's byte footprint. DDR: [lo, hi) bytes. LMEM: [lo, hi) bytes within each of the
// lanes [lane_lo, lane_hi) (a bounding box: the exact set of touched bytes may be sparser).
struct Access {
  const char* operand;  // field name: "src", "weight", ...
  Space space;
  bool write;
  uint32_t lane_lo, lane_hi;
  uint64_t lo, hi;
  uint64_t bytes;  // bytes actually transferred (for traffic statistics)
};

// Footprints of an instruction's operands (empty for sync/end).
std::vector<Access> accesses(const Instr& in, const Geometry& geo);

// Static validity of one instruction on a geometry: enum values, non-zero shapes and strides, shape
// consistency (e.g. groups divide ic and oc, output size >= 1, pad < kernel), dtype rules
// (weights int8/int4, 4-bit and int32 only where allowed), clamp_lo <= clamp_hi within the output
// type, int32 operands 4-byte aligned, every footprint inside LMEM/DDR. Returns "" when valid,
// else a one-line reason naming the field or operand.
std::string check(const Instr& in, const Geometry& geo);

struct ExecCounters {
  uint64_t macs = 0;           // multiply-accumulates performed (conv/matmul)
  uint64_t acc_overflows = 0;  // int32 accumulator saturations
  uint64_t ddr_read = 0, ddr_written = 0, lmem_read = 0, lmem_written = 0;  // bytes
};

// Run one instruction. Throws Error with check()'s reason if the instruction is invalid; sync and
// end have no memory effect here (the controller interprets them).
void execute(const Instr& in, const MemView& mem, ExecCounters& counters);

// Output spatial size of a window op: (in + pad_a + pad_b - dil*(k-1) - 1) / stride + 1, or 0 when
// the window does not fit.
int64_t window_out(int64_t in, int64_t pad_a, int64_t pad_b, int64_t k, int64_t stride, int64_t dil);

}  // namespace tpusim
