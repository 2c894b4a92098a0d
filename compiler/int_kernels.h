// Kernels of the integer reference interpreter (int_interp.h): one function per integer op, plain
// loops over row-major int32 data. Each returns the number of int32 saturations it performed.
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/int_graph.h"
#include "compiler/int_interp.h"

namespace tpusim::compiler::int_kernels {

// y must have its shape, type and quant parameters set; the kernels size y.data.
uint64_t conv(const IConv& c, const RequantSpec& rq, const IntValue& x, IntValue& y);
uint64_t matmul(const IMatmul& m, const RequantSpec& rq, const IntValue& x, IntValue& y);
uint64_t pool(const IPool& p, const RequantSpec& rq, const IntValue& x, IntValue& y);
uint64_t eltwise(const IEltwise& e, const RequantSpec& rq, const IntValue& a, const IntValue& b, IntValue& y);
uint64_t requant(const IRequant& r, const RequantSpec& rq, const IntValue& x, IntValue& y);
// Throws tpusim::Error when the table has the wrong size or an entry outside the output type.
void lut(const ILut& l, const IntValue& x, IntValue& y);
void concat(const IConcat& c, const std::vector<const IntValue*>& xs, IntValue& y);
// Throws tpusim::Error when a channel is out of range, the shapes do not match or the output's
// type, scale or zero point differ from the input's.
void gather(const IGather& gt, const IntValue& x, IntValue& y);
void rearrange(const IRearrange& ra, const IntValue& x, IntValue& y);
// Over the last axis (int_kernels_norm.cpp). Throw tpusim::Error for tables of the wrong size.
uint64_t layer_norm(const ILayerNorm& l, const RequantSpec& rq, const IntValue& x, IntValue& y);
uint64_t softmax(const ISoftmax& s, const RequantSpec& rq, const IntValue& x, IntValue& y);
// Batched, B's batch dims equal A's or all 1 (int_kernels_norm.cpp). Throws tpusim::Error on shapes
// that do not match.
uint64_t act_matmul(const IActMatmul& m, const RequantSpec& rq, const IntValue& a, const IntValue& b,
                    IntValue& y);

}  // namespace tpusim::compiler::int_kernels
