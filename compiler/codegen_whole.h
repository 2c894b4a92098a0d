// Back end, one op as a single tile in LMEM (codegen_whole.cpp): what the resident schedule
// (codegen_resident.cpp) needs to know of an op to keep it whole, and the code of that tile.
#pragma once
#include <cstdint>

#include "compiler/codegen.h"

namespace tpusim::compiler::be {

// One op as a single tile: its shape, tile and buffer sizes (bytes per lane).
struct Whole {
  bool ok = false;  // a window op, matmul, layernorm or softmax whose whole working set fits LMEM
  bool matmul = false;
  bool norm = false;  // layernorm or softmax (resident only when --opt 2 finds it faster)
  NormShape ns;
  WindowShape ws;
  WindowTile wt{};
  MatmulShape ms;
  MatmulTile mt{};
  int n_inputs = 1;
  Dims in_dims[2], out_dims;
  DType in_dt[2] = {DType::Int8, DType::Int8}, out_dt = DType::Int8;
  uint64_t in_bytes[2] = {0, 0}, out = 0;
  ConstBytes c;
  uint64_t consts() const { return c.total(); }
};

// The op as one tile; ok = false when it is not a window op, matmul, layernorm or softmax, or
// its working set does not fit a lane.
Whole whole_of(const IntGraph& g, const IOp& op, const Arch& a);
// The code of a resident op's single tile.
TileCode whole_code(const Whole& h, const IntGraph& g, const IOp& op, const Bufs& b, const DdrMap& ddr,
                    const OpConsts& c, const Arch& a);

}  // namespace tpusim::compiler::be
