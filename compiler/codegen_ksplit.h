// Shared by the split reductions of matmul (codegen_ksplit.cpp) and dense conv
// (codegen_ksplit_conv.cpp): the INT32 accumulator's instructions and the saturation proof.
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/codegen.h"

namespace tpusim::compiler::be {

// Refuses the split (one line naming the op) unless every partial sum provably fits int32:
// |bias[c]| + sum over the row of |w| * max|x - in_zp| <= 2^31 - 1 for each of the rows of `len`
// weights.
void check_no_saturation(const IOp& op, const std::vector<int8_t>& weight, const std::vector<int32_t>& bias,
                         int64_t len, DType in_dt, int32_t in_zp);

// The int32-in, int32-out identity requant tail (M0 = 2^30, shift 30, no clamp).
template <class T>
void identity_requant(T& x) {
  x.out_dtype = static_cast<int64_t>(DType::Int32), x.out_zp = 0, x.rq_per_channel = 0, x.rq = 0;
  x.m0 = kM0Identity, x.shift = kShiftIdentity, x.clamp_lo = INT32_MIN, x.clamp_hi = INT32_MAX;
}

// acc += part (int32 local tensors of shape d, acc in place).
Instr accumulate(uint64_t acc, uint64_t part, Dims d);
// out = the op's requant tail applied to acc (rq table at `rq` when per channel).
Instr requant_acc(const IOp& op, const ITensor& out_t, uint64_t acc, uint64_t out, uint64_t rq, Dims d);

}  // namespace tpusim::compiler::be
