// Back end, code generation: the two instruction streams, the syncs between them, and the
// per-op tile schedule (single-buffered, or ping/pong double-buffered so the GDMA loads tile k+1
// while the TIU computes tile k).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/codegen_fold.h"
#include "compiler/const_image.h"
#include "compiler/ddr_alloc.h"
#include "compiler/int_graph.h"
#include "compiler/tiling.h"
#include "isa/program.h"
#include "isa/semantics.h"

namespace tpusim::compiler::be {

// Appends instructions and their debug entries; emits syncs as "wait for instruction i of the
// other stream" (count i + 1), skipping waits an earlier sync already covers. Every instruction's
// LMEM footprints are also checked against the other stream's not yet waited-for instructions
// (read after write, write after read or write): a conflict gets its sync before the instruction,
// so a schedule is correct whatever order its code is emitted in (each engine runs in order).
// What --opt 2 adds to every emission, the final program's and the search's scratch ones alike:
// merged constant images (const_image.h) placed from image_base on (0: none), and the graph's
// rearranges folded into act_matmuls (null: none).
struct EmitOptions {
  uint64_t image_base = 0;
  const ViewFolds* folds = nullptr;
};
class Emitter {
 public:
  Emitter(Program& p, const Arch& a, EmitOptions o = {});
  const EmitOptions& options() const { return opts_; }
  std::string node;  // debug-map name of what is emitted next
  uint32_t gdma(const Instr& in);
  // One tile's constant loads (non-empty), merged into one image load when they lie in [lo, hi),
  // the per-lane range only these constants use in every lane, and one load is cheaper. Returns
  // the index of the last instruction emitted.
  uint32_t gdma_consts(std::vector<Instr> loads, uint64_t lo, uint64_t hi);
  std::vector<ConstImage> images;  // merged loads emitted, for their DDR bytes (finish_images)
  uint32_t tiu(const Instr& in);
  void tiu_waits_for_gdma(uint32_t gdma_index);
  void gdma_waits_for_tiu(uint32_t tiu_index);
  void finish();  // both streams end
  uint32_t gdma_size() const { return static_cast<uint32_t>(p_.gdma.size()); }
  uint32_t tiu_size() const { return static_cast<uint32_t>(p_.tiu.size()); }
  std::map<std::string, uint64_t> node_bytes;  // DDR bytes moved by the DMAs emitted, per debug-map node

 private:
  struct Footprint {
    uint32_t index;  // in its stream
    uint32_t lane_lo, lane_hi;
    uint64_t lo, hi;
    bool write;
  };
  uint32_t push(Engine e, const Instr& in);
  uint32_t push_ordered(Engine e, const Instr& in);
  Program& p_;
  const Arch& a_;
  EmitOptions opts_;
  Geometry geo_;
  uint64_t image_at_ = 0;                        // next image's DDR address (0: no merging)
  uint64_t tiu_waited_ = 0, gdma_waited_ = 0;    // counts already waited for
  std::vector<Footprint> tiu_lmem_, gdma_lmem_;  // LMEM footprints the other stream has not waited for
};

struct TileCode {
  std::vector<Instr> loads;               // activations
  std::vector<Instr> const_loads;         // weights, bias, rq table, lut table (after `loads` in a tile)
  uint64_t consts_lo = 0, consts_hi = 0;  // Bufs::consts_lo/hi
  std::vector<Instr> compute;             // TIU instructions, in order
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
// dma.copy between two local tensors (per-lane offsets and strides; same lanes).
Instr strided_copy(DType dt, Dims d, int64_t src, DmaStrides ss, int64_t dst, DmaStrides ds);
// dma.load of a lut table (`entries` elements at ddr_addr) into every lane of [0, lanes_used) at
// LMEM offset `lmem` (source channel stride 0).
Instr dma_load_table(DType dt, int64_t entries, int64_t lanes_used, uint64_t ddr_addr, uint64_t lmem);

// Where one tile's operands live in LMEM, and which of them its code moves.
struct Bufs {
  uint64_t in[2] = {0, 0}, w = 0, b = 0, rq = 0, lut = 0, out = 0;
  bool load_in[2] = {true, true};  // false: the input is already there (kept from its producer)
  bool load_consts = true;         // weights, bias, rq table
  bool load_lut = true;
  bool store = true;  // false: the output stays in LMEM only
  // The per-lane range the constants own in every lane (padding included): their loads may be
  // merged into one that writes all of it (Emitter::gdma_consts). Empty: never merged.
  uint64_t consts_lo = 0, consts_hi = 0;
};
// Bytes per lane of an op's constants for all its output channels (weights, bias, rq table, lut
// table), and their places one after another from `at` (returns the end).
struct ConstBytes {
  uint64_t w = 0, b = 0, rq = 0, lut = 0;
  uint64_t total() const { return w + b + rq + lut; }
  uint64_t place(Bufs& into, uint64_t at) const {
    into.w = at, into.b = at + w, into.rq = into.b + b, into.lut = into.rq + rq;
    into.consts_lo = at, into.consts_hi = into.lut + lut;
    return into.consts_hi;
  }
};
ConstBytes const_bytes(const WindowShape& s, const Arch& a);
ConstBytes const_bytes(const MatmulShape& s, const Arch& a);
// The code of one tile of a window op (conv2d, pool, eltwise, requant, lut) or a matmul.
WindowShape window_shape(const IntGraph& g, const IOp& op);
TileCode window_code(const IntGraph& g, const IOp& op, const WindowShape& s, const WindowTile& t,
                     const Bufs& b, const DdrMap& ddr, const OpConsts& c, const Arch& a);
MatmulShape matmul_shape(const IntGraph& g, const IOp& op);
TileCode matmul_code(const IntGraph& g, const IOp& op, const MatmulShape& s, const MatmulTile& t,
                     const Bufs& b, const DdrMap& ddr, const OpConsts& c, const Arch& a);

// The requant tail of a TIU instruction from the op's RequantSpec (rq table at LMEM `rq_lmem`).
template <class T>
void set_requant(T& t, const IOp& op, const ITensor& out, uint64_t rq_lmem) {
  t.out_dtype = static_cast<int64_t>(out.dtype);
  t.out_zp = op.rq.out_zp;
  t.rq_per_channel = op.rq.per_channel() ? 1 : 0;
  t.rq = op.rq.per_channel() ? static_cast<int64_t>(rq_lmem) : 0;
  t.m0 = op.rq.per_channel() ? 0 : op.rq.at(0).m0;
  t.shift = op.rq.per_channel() ? 0 : op.rq.at(0).shift;
  t.clamp_lo = op.rq.clamp_lo;
  t.clamp_hi = op.rq.clamp_hi;
}

// Per-op code (codegen_ops.cpp). Each fills the tile count, buffering and LMEM use it chose.
struct OpPlanInfo {
  int64_t tiles = 0;
  bool double_buffered = false;
  uint64_t lmem_bytes = 0;
};
OpPlanInfo emit_op(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                   const Arch& a);
// What the program's schedule did for one op (its instructions and traffic are found by its
// debug-map node: Emitter::node_bytes, Program::debug).
struct OpEmitted {
  OpPlanInfo info;
  bool resident = false;                          // one tile in LMEM buffers allocated by lifetime (opt >= 1)
  bool kept_input = false;                        // its first input read from its producer's LMEM buffer
  bool stored = true;                             // its output written to DDR
  uint64_t prefetched_bytes = 0;                  // its constants, loaded while earlier ops ran
  uint32_t prefetch_begin = 0, prefetch_end = 0;  // GDMA range of those loads
  bool group = false;                             // one op of a sliced layer group
  size_t group_first = 0;                         // its first op
  double group_estimate = 0;                      // the group's estimated cycles (plan_group)
  bool skip_from_lmem = false;                    // a group's eltwise: its other input read from LMEM
  // Resident: its output buffer's per-lane LMEM range and the last op reading it there (its
  // lifetime); out_bytes 0 = none.
  uint64_t out_lmem = 0, out_bytes = 0;
  size_t out_last_use = 0;
};
// One op of a layer group's chain (codegen_group_chain.cpp). Its input 0 is the previous op's
// output (op 0: the chain's input, from DDR); an eltwise's other input comes from DDR or, as a
// skip connection, from a band the group keeps in LMEM: the chain's input or an earlier op's
// output. When the previous output is an eltwise's second input, the op is used with its inputs
// (and their zero points and rescales) swapped: add, mul and max are symmetric.
constexpr int64_t kSkipFromDdr = -2, kSkipFromChainInput = -1;
struct ChainOp {
  const IOp* graph_op = nullptr;
  IOp swapped_op;  // used when `swapped`
  bool swapped = false;
  int64_t skip = kSkipFromDdr;  // kSkipFromDdr, kSkipFromChainInput or the chain index of the producer
  const IOp& op() const { return swapped ? swapped_op : *graph_op; }
};
// Ops [first, last] as a chain, or nothing when they do not form one: each op must read the
// previous one's output, and every output but the last must be read only inside the chain (not a
// graph output). `uses`: the readers of every tensor storage (graph outputs count 2).
std::optional<std::vector<ChainOp>> make_chain(const IntGraph& g, const std::map<std::string, int>& uses,
                                               size_t first, size_t last);
std::map<std::string, int> tensor_uses(const IntGraph& g);
// A layer group (codegen_group.cpp): the chain of window ops [first, last], run in slices of
// `rows` output rows of the last op with `sets` buffer sets.
struct GroupPlan {
  size_t first = 0, last = 0;
  std::vector<ChainOp> chain;
  int64_t rows = 0;  // 0: no feasible slicing (LMEM, whole-byte 4-bit rows, skip bands)
  int sets = 1;
  double cost = 0, alone = 0;  // estimated cycles, grouped and one by one
  uint64_t lmem_bytes = 0;     // per lane
  int skips = 0;               // skip connections read from LMEM
};
// The slicing of least estimated cost (cost < alone when it beats running the ops one by one).
GroupPlan plan_group(const IntGraph& g, const std::vector<ChainOp>& chain, size_t first, const Arch& a);
// The `most` slicings (rows, buffer sets) of least estimated cost, cheapest first.
std::vector<GroupPlan> plan_group_options(const IntGraph& g, const std::vector<ChainOp>& chain, size_t first,
                                          const Arch& a, size_t most);
void emit_group(Emitter& e, const IntGraph& g, const DdrMap& ddr, const Arch& a, const GroupPlan& plan,
                std::vector<OpEmitted>& out);
// The last op of the longest run of window ops from `first`, each reading the previous one's
// output, at most kMaxChain ops (make_chain then checks the run is a chain).
inline constexpr size_t kMaxChain = 8;
bool window_op(const IOp& op);  // conv, pool, eltwise, lut, requant: what a chain is made of
size_t chain_end(const IntGraph& g, size_t first);
// The layer groups of the resident schedule (--opt 1): from every window op that does not fit
// LMEM whole (fits_whole[i] false), in program order, the chain of up to 8 window ops whose
// estimate gains most. The ops of a group get fits_whole false.
std::vector<GroupPlan> form_groups(const IntGraph& g, const Arch& a, std::vector<bool>& fits_whole);
// --opt 2 (codegen_group_search.cpp): the groups chosen by dynamic programming over cut points,
// each candidate group and each op alone costed by replaying its emitted code (cycle_model.h);
// kept only when the whole resident schedule with them (`schedule_cost`) is faster than with the
// greedy choice: by more than 0.1%, or at all while moving no more DDR bytes. `fits_whole`:
// before any grouping; `opts`: the final program's, for every replayed emission.
struct ScheduleCost {
  uint64_t cycles = 0, ddr_bytes = 0;
};
std::vector<GroupPlan> search_groups(
    const IntGraph& g, const DdrMap& ddr, const Arch& a, const EmitOptions& opts,
    const std::vector<bool>& fits_whole, std::vector<GroupPlan> greedy,
    const std::function<ScheduleCost(const std::vector<GroupPlan>&)>& schedule_cost);
// --opt 2: which of the ops marked in `can` (layernorm/softmax that fit LMEM whole) run resident,
// starting from `on` (whose schedule costs `current`): all of them if that replays faster, then
// each switched in turn, keeping every switch that replays faster (or as fast with fewer bytes).
std::vector<bool> choose_resident(const std::vector<bool>& can, std::vector<bool> on, ScheduleCost current,
                                  const std::function<ScheduleCost(const std::vector<bool>&)>& cost);
// Every op of the graph in order. opt 0: each op tiled on its own (emit_op); opt 1: the resident
// schedule of codegen_resident.cpp, greedy layer groups; opt 2: the same with its layer groups
// and resident layernorm/softmax searched (codegen_group_search.cpp).
std::vector<OpEmitted> emit_program(Emitter& e, const IntGraph& g, const DdrMap& ddr, const Arch& a, int opt);
// A matmul whose weights do not fit LMEM even one column per lane: the reduction split into chunks
// with INT32 partial sums in LMEM (codegen_ksplit.cpp).
OpPlanInfo emit_matmul_ksplit(Emitter& e, const IntGraph& g, const IOp& op, const MatmulShape& s,
                              const DdrMap& ddr, const OpConsts& c, const Arch& a);
// A dense conv whose weights do not fit LMEM even one output channel per lane: the input channels
// split into chunks with INT32 partial sums in LMEM (codegen_ksplit_conv.cpp).
OpPlanInfo emit_conv_ksplit(Emitter& e, const IntGraph& g, const IOp& op, const WindowShape& s,
                            const DdrMap& ddr, const OpConsts& c, const Arch& a);
// IGather (codegen_gather.cpp).
OpPlanInfo emit_gather(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a);
// IRearrange (codegen_rearrange.cpp).
OpPlanInfo emit_rearrange(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a);
// IActMatmul (codegen_act_matmul.cpp); with EmitOptions::folds, through the rearranges folded
// into it (codegen_fold.h).
OpPlanInfo emit_act_matmul(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a);
// ILayerNorm and ISoftmax (codegen_norm.cpp): [..., d] as [rows, d, 1, 1]; the table is softmax's
// exp table (a copy per lane) or layernorm's (g, b) pair per feature.
struct NormShape {
  int64_t rows = 0, d = 0, entries = 0;
  DType in_dt = DType::Int8, out_dt = DType::Int8;
  uint64_t table_bytes = 0;  // per lane
};
NormShape norm_shape(const IntGraph& g, const IOp& op, const Arch& a);
// Rows [r0, r0 + rt) with the input at b.in[0], output at b.out and table at b.lut (loaded when
// b.load_lut); b.load_in[0] and b.store as for the other ops.
TileCode norm_code(const IntGraph& g, const IOp& op, const NormShape& s, int64_t r0, int64_t rt,
                   const Bufs& b, const DdrMap& ddr, const OpConsts& c, const Arch& a);
OpPlanInfo emit_norm(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const OpConsts& c,
                     const Arch& a);

}  // namespace tpusim::compiler::be
