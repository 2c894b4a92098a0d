// Differentiable fake quantization: the float value an integer grid represents, with the
// gradients each QAT algorithm defines. Forward values follow the shared numerics exactly
// (quant/calibration.h fake_quantize: ONNX QuantizeLinear = round half to even of the float32
// quotient x / scale, plus zero point, saturated to the spec's [qmin, qmax]; then (q - zp) * scale),
// so fake-quant values equal what the integer hardware computes from the same parameters.
// Per-tensor parameters have one element and axis = -1; per-channel ones have x.size(axis)
// elements and broadcast along `axis` (0 for weights). Parameters are cast to x's dtype and device
// (a float x keeps a float32 quotient). A shape mismatch or a grid without 0 and 1 throws Error.
// NaN inputs stay NaN (tpusim::fake_quantize maps them to the zero point): the trainer's NaN guard
// must see them. Gradients flow to x in any dtype, so double inputs serve gradient checks.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace tpusim::qat {

// Straight-through estimator with clipping (Jacob et al. 2018; Bengio 2013): dy/dx = 1 where
// round(x / scale) + zp lies in [qmin, qmax], else 0. No gradient to scale or zero point (they
// come from EMA ranges or calibration). scale/zero_point: one element (per tensor) or one per
// index of `axis` (per channel); zero_point holds integer values as float.
torch::Tensor fake_quant_ste(const torch::Tensor& x, const torch::Tensor& scale,
                             const torch::Tensor& zero_point, int64_t qmin, int64_t qmax, int64_t axis = -1);

// LSQ (Esser et al. 2020), zero point 0: y = clamp(round(x / s), qmin, qmax) * s.
//   dy/dx = 1 inside (qmin < x/s < qmax), else 0;
//   dy/ds = (round(x/s) - x/s) inside, qmin below, qmax above; times grad_scale (1/sqrt(N * qmax)).
// s: one element or one per index of `axis`.
torch::Tensor lsq_quant(const torch::Tensor& x, const torch::Tensor& s, int64_t qmin, int64_t qmax,
                        double grad_scale, int64_t axis = -1);

// PACT (Choi et al. 2018), unsigned: y = fake quant of clip(x, 0, alpha) with scale alpha / qmax,
// zero point 0. dy/dx = 1 for 0 <= x < alpha, else 0; dy/dalpha = 1 for x >= alpha, else 0
// (the paper's eq. 3 with the STE). alpha: one element.
torch::Tensor pact_quant(const torch::Tensor& x, const torch::Tensor& alpha, int64_t qmax);

// DoReFa (Zhou et al. 2016) weights: w_n = tanh(w) / max|tanh(w)| (per tensor) in [-1, 1], then
// fake-quantized on the symmetric narrow grid [-qmax, qmax] with scale 1 / qmax (the grid with a
// zero the integer MAC array needs; DoReFa's own grid 2q/(2^k-1) - 1 has no integer zero point).
// Gradients: autograd through tanh and the max, STE through the rounding.
torch::Tensor dorefa_weight(const torch::Tensor& w, int64_t qmax);
// DoReFa activations: fake quant of clip(x, 0, 1) with scale 1 / qmax (unsigned), STE inside [0, 1].
torch::Tensor dorefa_activation(const torch::Tensor& x, int64_t qmax);

}  // namespace tpusim::qat
