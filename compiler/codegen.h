// Back end, code generation: the two instruction streams, the syncs between them, and the
// per-op tile schedule (single-buffered, or ping/pong double-buffered so the GDMA loads tile k+1
// while the TIU computes tile k).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ddr_alloc.h"
#include "compiler/int_graph.h"
#include "compiler/tiling.h"
#include "isa/program.h"

namespace tpusim::compiler::be {

// Appends instructions and their debug entries; emits syncs as "wait for instruction i of the
// other stream" (count i + 1), skipping waits an earlier sync already covers.
class Emitter {
 public:
  explicit Emitter(Program& p) : p_(p) {}
  std::string node;  // debug-map name of what is emitted next
  uint32_t gdma(const Instr& in);
  uint32_t tiu(const Instr& in);
  void tiu_waits_for_gdma(uint32_t gdma_index);
  void gdma_waits_for_tiu(uint32_t tiu_index);
  void finish();  // both streams end
  uint32_t gdma_size() const { return static_cast<uint32_t>(p_.gdma.size()); }
  uint32_t tiu_size() const { return static_cast<uint32_t>(p_.tiu.size()); }
  uint64_t dma_bytes = 0;  // DDR bytes moved by the DMAs emitted so far

 private:
  uint32_t push(Engine e, const Instr& in);
  Program& p_;
  uint64_t tiu_waited_ = 0, gdma_waited_ = 0;  // counts already waited for
};

struct TileCode {
  std::vector<Instr> loads;
  std::optional<Instr> compute;
  std::vector<Instr> stores;
};

// Emits `tiles` tiles with `sets` buffer sets (1 or 2) of `set_bytes` each: tile k uses the set
// at LMEM offset (k % sets) * set_bytes, passed to make().
void schedule(Emitter& e, int64_t tiles, int sets, uint64_t set_bytes,
              const std::function<TileCode(int64_t k, uint64_t base)>& make);

// 4-D view of a tensor shape: NCHW as is, [m, n] -> [m, n, 1, 1], [a, b, c] -> [a, b, c, 1],
// rank > 4 folds the tail into w, rank 1 -> [1, 1, 1, d].
struct Dims {
  int64_t n = 1, c = 1, h = 1, w = 1;
};
Dims dims4(const Shape& s);

// dma.load / dma.store between a DDR block (element offset `ddr_elem` from `ddr_base` of a compact
// tensor `full`) and a compact local tensor of shape `d` at LMEM offset `lmem`.
Instr dma_load(const Arch& a, DType dt, Dims d, uint64_t ddr_base, int64_t ddr_elem, Dims full,
               uint64_t lmem);
Instr dma_store(const Arch& a, DType dt, Dims d, uint64_t lmem, uint64_t ddr_base, int64_t ddr_elem,
                Dims full);
// dma.load of the [d.n, d.c] block at element (n0, c0) of a compact DDR tensor [N, full_c] (or
// [N, full_c, 1, 1]) into a compact local tensor of shape `d`, every element replicated over d.h
// and d.w (source strides 0 along h and w): an eltwise operand broadcast by the GDMA.
Instr dma_load_broadcast(const Arch& a, DType dt, Dims d, uint64_t ddr_base, int64_t n0, int64_t c0,
                         int64_t full_c, uint64_t lmem);
// A dma.load / dma.store of the [d.n, d.c, d.h, d.w] block at `src` with element strides `ss` to
// `dst` with strides `ds` (DDR: byte addresses; LMEM: per-lane offsets, c stride per lane slot).
struct DmaStrides {
  int64_t n, c, h, w;
};
Instr strided_load(DType dt, Dims d, int64_t src, DmaStrides ss, int64_t dst, DmaStrides ds);
Instr strided_store(DType dt, Dims d, int64_t src, DmaStrides ss, int64_t dst, DmaStrides ds);
// dma.load of a lut table (`entries` elements at ddr_addr) into every lane of [0, lanes_used) at
// LMEM offset `lmem` (source channel stride 0).
Instr dma_load_table(DType dt, int64_t entries, int64_t lanes_used, uint64_t ddr_addr, uint64_t lmem);

// Per-op code (codegen_ops.cpp). Each fills the tile count, buffering and LMEM use it chose.
struct OpPlanInfo {
  int64_t tiles = 0;
  bool double_buffered = false;
  uint64_t lmem_bytes = 0;
};
OpPlanInfo emit_op(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                   const Arch& a);
// IGather (codegen_gather.cpp).
OpPlanInfo emit_gather(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a);
// IRearrange (codegen_rearrange.cpp).
OpPlanInfo emit_rearrange(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a);

}  // namespace tpusim::compiler::be
