// Back end, --opt 2: rearranges folded into the act_matmuls beside them (codegen_fold.cpp). An
// act_matmul operand that a rearrange produces for act_matmuls alone (attention's head split, Kᵀ)
// is read through the rearrange's view straight from its input; a rearrange that only permutes an
// act_matmul's output and is its one reader (the head merge) is written by the act_matmul's
// stores. Either way the rearrange emits no code. Found once per graph (ViewFolds); emissions
// only look them up.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/int_graph.h"

namespace tpusim::compiler::be {

// An act_matmul input read through the view of the rearrange producing it: the operand's element
// at index (d0, d1, ...) is the rearrange input's element view.offset + sum d_i * strides[i].
struct FoldedOperand {
  const IOp* rearrange = nullptr;
  std::vector<int64_t> strides;  // per dim of the operand's shape
};
// The rearrange that alone reads an act_matmul's output and only permutes its dims: output element
// (d0, d1, ...) goes to the rearrange output's element sum d_i * strides[i].
struct FoldedStore {
  const IOp* rearrange = nullptr;
  std::vector<int64_t> strides;  // per dim of the act_matmul output's shape
};

class ViewFolds {
 public:
  // An operand folds when it is read only by act_matmuls, is no graph output, is 8-bit and every
  // dim longer than 1 has a positive stride; a store when the rearrange reading the output is
  // its only reader, no graph output reads it, it is 8-bit, the view a pure permutation, and the
  // rearrange's own readers do not read through it already.
  explicit ViewFolds(const IntGraph& g);
  const FoldedOperand* operand(const IOp& act_matmul, size_t k) const;
  const FoldedStore* store(const IOp& act_matmul) const;
  // A rearrange whose readers read through it: its output is never written.
  bool read_through(const IOp& rearrange) const { return read_through_.count(rearrange.output) > 0; }
  // A rearrange that emits no code: read through, or written by its act_matmul's stores.
  bool skips(const IOp& rearrange) const {
    return read_through(rearrange) || written_.count(rearrange.output) > 0;
  }

 private:
  std::map<std::string, std::array<std::optional<FoldedOperand>, 2>> operands_;  // by act_matmul output
  std::map<std::string, FoldedStore> stores_;                                    // by act_matmul output
  std::set<std::string> read_through_, written_;                                 // rearrange outputs
};

}  // namespace tpusim::compiler::be
