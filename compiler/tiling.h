// Back end, tiling: how one IR op is cut into tiles that fit LMEM (docs/compiler.md, "Back end").
// A window op (conv2d, pool, and eltwise/requant as 1x1 windows) is tiled over batch, output-channel
// groups and output-row bands; a band's input rows carry the halo, and padding applies only at
// the real image edges. Matmul is tiled over rows and output columns here; a matmul whose weights do
// not fit even so gets its reduction split (codegen_ksplit.cpp).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "base/int_math.h"
#include "isa/arch.h"
#include "isa/dtype.h"

namespace tpusim::compiler::be {

inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
// Places the operands of one buffer set one after another, each starting at a multiple of
// `align`: with align = the LMEM bank size no two operands share a bank, so the TIU pays no
// bank-conflict stalls (docs/timing.md); with 4 they are packed. Returns the set's size, a
// multiple of `align`.
struct SetLayout {
  uint64_t align, at = 0;
  uint64_t place(uint64_t bytes) {
    const uint64_t off = align_up(at, align);
    at = off + bytes;
    return off;
  }
  uint64_t size() const { return align_up(at, align); }
};

// Bytes per lane of a compact local tensor [n, c, h, w], rounded up to 4 (int32 alignment).
uint64_t local_bytes(const Arch& a, DType dt, int64_t n, int64_t c, int64_t h, int64_t w);

// The geometry of a window op on NCHW tensors.
struct WindowShape {
  int64_t n = 1, ic = 1, ih = 1, iw = 1, oc = 1, oh = 1, ow = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  // grouped: output channel group [o0, o0+oct) reads input channels [o0/ocpg*icpg, ...) (grouped
  // conv, depthwise, pool, eltwise: ocpg = icpg = 1); else every tile reads all ic channels and
  // icpg = ic (the weights' per-channel length is icpg*kh*kw either way).
  bool grouped = true;
  int64_t ocpg = 1, icpg = 1;
  int n_inputs = 1;  // eltwise: 2 (the second of type in_dt2)
  // Eltwise input i is [n, ic, 1, 1] in DDR, replicated over the tile's rows and columns by its
  // load (its LMEM buffer is a full tile all the same).
  bool broadcast[2] = {false, false};
  int64_t lut_entries = 0;  // lut: the table's entries (of out_dt), one copy per lane; 0 = none
  DType in_dt = DType::Int8, in_dt2 = DType::Int8, out_dt = DType::Int8, w_dt = DType::Int8;
  bool weights = false, bias = false, rq_table = false;
};

struct WindowTile {
  int64_t n0, nt, o0, oct, r0, rows;  // output block
  int64_t i0, ict;                    // input channels
  int64_t lo, hi, pad_t, pad_b;       // input rows [lo, hi) and the padding of this band
};

struct WindowPlan {
  int64_t nt = 1, oct = 1, rows = 1;
  bool double_buffer = false;
  uint64_t set_bytes = 0;  // per lane, one buffer set
  // offsets within a set
  uint64_t in_off[2] = {0, 0}, w_off = 0, b_off = 0, rq_off = 0, lut_off = 0, out_off = 0;
  uint64_t consts_lo = 0, consts_hi = 0;  // the weights, bias and rq table with the padding between
  std::vector<WindowTile> tiles;
};

// Chooses the tiling, or nothing when no tiling fits (a dense conv then splits its input channels:
// codegen_ksplit_conv.cpp).
std::optional<WindowPlan> try_plan_window(const WindowShape& s, const Arch& a);
std::vector<WindowTile> window_tiles(const WindowShape& s, int64_t nt, int64_t oct, int64_t rows);

struct MatmulShape {
  int64_t m = 1, k = 1, n = 1;
  DType in_dt = DType::Int8, out_dt = DType::Int8, w_dt = DType::Int8;
  bool bias = false, rq_table = false;
};
struct MatmulTile {
  int64_t m0, mt, j0, jt;
};
struct MatmulPlan {
  int64_t mt = 1, jt = 1;
  bool double_buffer = false;
  uint64_t set_bytes = 0, in_off = 0, w_off = 0, b_off = 0, rq_off = 0, out_off = 0;
  uint64_t consts_lo = 0, consts_hi = 0;  // the weights, bias and rq table with the padding between
  std::vector<MatmulTile> tiles;
};
inline constexpr int64_t kMaxDim = 65535;  // the 16-bit shape fields (n, c, h, w, matmul's k)
inline constexpr int64_t kMaxMatmulK = kMaxDim;
// The largest tiles that fit, or nothing (also when k > kMaxMatmulK) (k is never split here:
// codegen_ksplit.cpp does that).
std::optional<MatmulPlan> try_plan_matmul(const MatmulShape& s, const Arch& a);

}  // namespace tpusim::compiler::be
