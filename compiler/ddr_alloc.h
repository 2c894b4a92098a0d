// Back end, DDR allocation: every non-view tensor gets compact NCHW storage (packed per dtype);
// constants (weights [oc][ic/groups*kh*kw] or [n][k] packed per dtype, int32 bias, int32 (M0, shift)
// pairs, lut tables packed per output dtype, softmax exp tables and layernorm (g, b) pairs as
// int32) become DataBlocks. Every region starts 64-byte aligned (int32 needs 4).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/int_graph.h"
#include "isa/program.h"

namespace tpusim::compiler::be {

struct OpConsts {
  uint64_t weight = 0, bias = 0, rq = 0, table = 0;  // DDR addresses (0 = none)
};

struct DdrMap {
  std::map<std::string, uint64_t> addr;  // storage tensor -> address
  std::vector<OpConsts> consts;          // per op, same order as IntGraph::ops
  // Per concat (by its output): which of its inputs are stored in place inside its output (they
  // need no copy).
  std::map<std::string, std::vector<bool>> concat_in_place;
  uint64_t end = 0;

  uint64_t of(const IntGraph& g, const std::string& tensor) const { return addr.at(g.storage(tensor)); }
};

// Allocates and appends the constant DataBlocks to `p.data`.
DdrMap allocate_ddr(const IntGraph& g, Program& p);
// Moves concat inputs into their concat's output where its slices are contiguous (ddr_concat.cpp);
// fills concat_in_place.
void place_concat_inputs(const IntGraph& g, DdrMap& m);

}  // namespace tpusim::compiler::be
