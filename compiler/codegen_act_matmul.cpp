// Back end code generation of IActMatmul, a MatMul of two activations (attention): per batch, the
// `matmul` instruction with A's rows as its input and B^T as its weights. B [K, N] lies in DDR
// with N innermost; the weights want column j of B in lane j mod lanes, K elements long, so each
// tile's B block is loaded transposed by one strided dma.load (source stride 1 along the lanes,
// N along k). Tiles come from the matmul tiler (rows of A x columns of B, K whole); a tile whose
// (batch, columns) block is already in its buffer set keeps it.
//
// --opt 2 folds the rearranges next to it (codegen_fold.h): an operand a rearrange produces for it
// is loaded straight from the rearrange's input through the view, and a head merge after it is
// written by its stores (every DMA is strided anyway); those rearranges emit no code.
#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "compiler/codegen.h"

namespace tpusim::compiler::be {

namespace {

struct ActTile {
  int64_t batch;
  MatmulTile t;
};

}  // namespace

OpPlanInfo emit_act_matmul(Emitter& e, const IntGraph& g, const IOp& op, const DdrMap& ddr, const Arch& a) {
  const ITensor &A = g.tensor(op.inputs[0]), &B = g.tensor(op.inputs[1]), &Y = g.tensor(op.output);
  OpPlanInfo info;
  if (num_elements(Y.shape) == 0) return info;
  const size_t ra = A.shape.size(), rb = B.shape.size();
  MatmulShape s;
  s.m = A.shape[ra - 2], s.k = A.shape[ra - 1], s.n = B.shape[rb - 1];
  s.in_dt = A.dtype, s.w_dt = B.dtype, s.out_dt = Y.dtype;
  const int64_t batches = num_elements(A.shape) / (s.m * s.k);
  const bool shared_b = num_elements(B.shape) == s.k * s.n;
  if (op.rq.per_channel()) throw Error(fmt::format("{}: act_matmul requantizes per tensor only", op.name));
  const std::optional<MatmulPlan> fit = try_plan_matmul(s, a);
  if (!fit)
    throw Error(fmt::format("{}: no tiling of the {}x{} by {}x{} product fits LMEM ({} bytes per lane)",
                            op.name, s.m, s.k, s.k, s.n, a.lane_bytes));
  const MatmulPlan& plan = *fit;
  std::vector<ActTile> tiles;
  for (int64_t b = 0; b < batches; ++b)
    for (const MatmulTile& t : plan.tiles) tiles.push_back({b, t});
  const auto b_elem = [&](const ActTile& t) { return (shared_b ? 0 : t.batch) * s.k * s.n + t.t.j0; };
  for (const ActTile& t : tiles)  // 4-bit DDR blocks start on whole bytes
    if ((is_4bit(B.dtype) && b_elem(t) % 2) || (is_4bit(A.dtype) && (t.batch * s.m + t.t.m0) * s.k % 2) ||
        (is_4bit(Y.dtype) && ((t.batch * s.m + t.t.m0) * s.n + t.t.j0) % 2))
      throw Error(fmt::format("{}: a 4-bit block of the {}x{} by {}x{} product starts at an odd element",
                              op.name, s.m, s.k, s.k, s.n));
  const int sets = plan.double_buffer ? 2 : 1;
  const uint64_t a_ddr = ddr.of(g, op.inputs[0]), b_ddr = ddr.of(g, op.inputs[1]),
                 y_ddr = ddr.of(g, op.output);
  const ViewFolds* folds = e.options().folds;
  const FoldedOperand* fold[2] = {folds ? folds->operand(op, 0) : nullptr,
                                  folds ? folds->operand(op, 1) : nullptr};
  const FoldedStore* store_fold = folds ? folds->store(op) : nullptr;
  // A folded operand's element (batch b, row i, column j): the rearrange input's element at
  // view offset + b's batch dims + i * row stride + j * column stride.
  auto folded_at = [&](size_t k, int64_t b, int64_t i, int64_t j) {
    const FoldedOperand& f = *fold[k];
    const Shape& shape = g.tensor(op.inputs[k]).shape;
    const size_t r = shape.size();
    int64_t at = f.rearrange->as<IRearrange>()->view.offset + i * f.strides[r - 2] + j * f.strides[r - 1];
    for (size_t d = r - 2; d-- > 0;) at += (b % shape[d]) * f.strides[d], b /= shape[d];
    const ITensor& src = g.tensor(f.rearrange->inputs[0]);
    return static_cast<int64_t>(ddr.of(g, f.rearrange->inputs[0]) +
                                static_cast<uint64_t>(at) * bits(src.dtype) / 8);
  };
  auto make = [&](int64_t k, uint64_t base) {
    const ActTile& at = tiles[static_cast<size_t>(k)];
    const MatmulTile& t = at.t;
    const uint64_t in = base + plan.in_off, w = base + plan.w_off, out = base + plan.out_off;
    TileCode tc;
    if (fold[0]) {
      const std::vector<int64_t>& st = fold[0]->strides;
      tc.loads.push_back(strided_load(s.in_dt, {t.mt, s.k, 1, 1}, folded_at(0, at.batch, t.m0, 0),
                                      {st[ra - 2], st[ra - 1], 1, 1}, static_cast<int64_t>(in),
                                      {ceil_div(s.k, int64_t{a.lanes}), 1, 1, 1}));
    } else {
      tc.loads.push_back(dma_load(a, s.in_dt, {t.mt, s.k, 1, 1}, a_ddr, (at.batch * s.m + t.m0) * s.k,
                                  {batches * s.m, s.k, 1, 1}, in));
    }
    const bool kept = k >= sets && b_elem(tiles[static_cast<size_t>(k - sets)]) == b_elem(at) &&
                      tiles[static_cast<size_t>(k - sets)].t.jt == t.jt;
    if (!kept) {
      // Local [1, jt, 1, K] (compact: per lane slot K elements) <- B[k][j0 + j].
      const auto src = static_cast<int64_t>(b_ddr + static_cast<uint64_t>(b_elem(at)) * bits(s.w_dt) / 8);
      const DmaStrides to{ceil_div(t.jt, a.lanes) * s.k, s.k, s.k, 1};
      if (fold[1]) {  // B's rows are its dim r - 2 (k), its columns dim r - 1 (j)
        const std::vector<int64_t>& st = fold[1]->strides;
        tc.const_loads.push_back(strided_load(s.w_dt, {1, t.jt, 1, s.k},
                                              folded_at(1, shared_b ? 0 : at.batch, 0, t.j0),
                                              {0, st[rb - 1], 0, st[rb - 2]}, static_cast<int64_t>(w), to));
      } else {
        tc.const_loads.push_back(
            strided_load(s.w_dt, {1, t.jt, 1, s.k}, src, {0, 1, 0, s.n}, static_cast<int64_t>(w), to));
      }
    }
    ops::Matmul m;
    m.dst = static_cast<int64_t>(out), m.src = static_cast<int64_t>(in), m.weight = static_cast<int64_t>(w);
    m.bias = 0, m.m = t.mt, m.k = s.k, m.n = t.jt, m.in_dtype = static_cast<int64_t>(s.in_dt);
    m.w_dtype = static_cast<int64_t>(s.w_dt), m.in_zp = op.as<IActMatmul>()->a_zp, m.has_bias = 0;
    set_requant(m, op, Y, 0);
    tc.compute = {m.instr()};
    if (store_fold) {  // into the rearrange's output: y's element (b, i, j) at sum of coordinate x stride
      const std::vector<int64_t>& st = store_fold->strides;
      const size_t ry = Y.shape.size();
      int64_t to = t.m0 * st[ry - 2] + t.j0 * st[ry - 1];
      for (int64_t b = at.batch, d = static_cast<int64_t>(ry) - 3; d >= 0; --d) {
        to += (b % Y.shape[static_cast<size_t>(d)]) * st[static_cast<size_t>(d)];
        b /= Y.shape[static_cast<size_t>(d)];
      }
      const uint64_t base_ddr = ddr.of(g, store_fold->rearrange->output);
      tc.stores.push_back(
          strided_store(s.out_dt, {t.mt, t.jt, 1, 1}, static_cast<int64_t>(out),
                        {ceil_div(t.jt, int64_t{a.lanes}), 1, 1, 1},
                        static_cast<int64_t>(base_ddr + static_cast<uint64_t>(to) * bits(s.out_dt) / 8),
                        {st[ry - 2], st[ry - 1], 1, 1}));
    } else {
      tc.stores.push_back(dma_store(a, s.out_dt, {t.mt, t.jt, 1, 1}, out, y_ddr,
                                    (at.batch * s.m + t.m0) * s.n + t.j0, {batches * s.m, s.n, 1, 1}));
    }
    return tc;
  };
  schedule(e, static_cast<int64_t>(tiles.size()), sets, plan.set_bytes, make);
  return {static_cast<int64_t>(tiles.size()), plan.double_buffer,
          plan.set_bytes * static_cast<uint64_t>(sets)};
}

}  // namespace tpusim::compiler::be
