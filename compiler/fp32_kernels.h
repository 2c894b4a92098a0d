// Float reference kernels of the FP32 interpreter: plain loops over NCHW float arrays, written for
// clarity first (the inner loops run along contiguous rows so they stay fast enough).
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/ops.h"

namespace tpusim::compiler::kernels {

// x [N,C,H,W], w [M,C/group,kh,kw], bias [M] or nullptr -> y [N,M,OH,OW] (pre-sized).
void conv2d(const float* x, const Shape& xs, const float* w, const Shape& ws, const float* bias,
            const ConvAttrs& a, float* y, const Shape& ys);
void max_pool(const float* x, const Shape& xs, const PoolAttrs& a, float* y, const Shape& ys);
void avg_pool(const float* x, const Shape& xs, const PoolAttrs& a, float* y, const Shape& ys);
void global_avg_pool(const float* x, const Shape& xs, float* y);
// y = alpha * op(A) * op(B) + beta * C, C broadcast to [M,N] (cs empty when absent).
void gemm(const float* a, const Shape& as, const float* b, const Shape& bs, const float* c, const Shape& cs,
          const GemmAttrs& at, float* y);
// A [..., M, K] x B [K, N] or [..., K, N] (same batch dims) -> [..., M, N].
void matmul(const float* a, const Shape& as, const float* b, const Shape& bs, float* y);
// y = f(a, b) with numpy broadcasting to ys.
enum class Binary { Add, Mul };
void binary(Binary op, const float* a, const Shape& as, const float* b, const Shape& bs, float* y,
            const Shape& ys);
// y[n,c,...] = x[n,c,...] * s[c] + t[c]
void channel_affine(const float* x, const Shape& xs, const float* s, const float* t, float* y);

}  // namespace tpusim::compiler::kernels
