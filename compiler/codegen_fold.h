// Back end, --opt 2: rearranges folded into the act_matmuls beside them (codegen_fold.cpp). An
// act_matmul operand that a rearrange produces for act_matmuls alone (attention's head split, Kᵀ)
// is read through the rearrange's view straight from its input; a rearrange that only permutes an
// act_matmul's output and is its one reader (the head merge) is written by the act_matmul's
// stores. Either way the rearrange emits no code (codegen.h: rearrange_folded,
// rearrange_store_folded, act_matmul_store_folded).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "compiler/int_graph.h"

namespace tpusim::compiler::be {

// Input `k` of act_matmul `op` read through the view of the rearrange producing it: the operand's
// element at index (d0, d1, ...) is the rearrange input's element view.offset + sum d_i *
// strides[i]. Nothing unless it is read only by act_matmuls, is no graph output, is 8-bit and
// every stride of a dim longer than 1 is positive.
struct FoldedOperand {
  const IOp* rearrange = nullptr;
  std::vector<int64_t> strides;  // per dim of the operand's shape
};
std::optional<FoldedOperand> folded_operand(const IntGraph& g, const IOp& op, size_t k);

// The rearrange that alone reads act_matmul `op`'s output when it only permutes its dims: output
// element (d0, d1, ...) goes to the rearrange output's element sum d_i * strides[i].
struct FoldedStore {
  const IOp* rearrange = nullptr;
  std::vector<int64_t> strides;  // per dim of the act_matmul output's shape
};
std::optional<FoldedStore> folded_store(const IntGraph& g, const IOp& op);

}  // namespace tpusim::compiler::be
