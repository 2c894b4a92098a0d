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

// Softmax over a.axis (or the axes from it on, a.flatten), axis normalised.
void softmax(const float* x, const Shape& xs, const SoftmaxAttrs& a, float* y);
// LayerNormalization over the axes from a.axis on; scale/bias broadcast to them (either may be
// nullptr: 1 and 0); mean and inv_std (one per normalised row) may be nullptr.
void layer_norm(const float* x, const Shape& xs, const LayerNormAttrs& a, const float* scale, const Shape& ss,
                const float* bias, const Shape& bs, float* y, float* mean, float* inv_std);

}  // namespace tpusim::compiler::kernels
