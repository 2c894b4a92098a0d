// The direct-convolution micro-kernel of the fast conv2d path (isa/semantics_fast_conv_quads.cpp):
// output positions along the vector, four weight bytes broadcast. The input is laid out in "quads":
// for each of k4 reduction steps, 4 consecutive bytes per output position q, so one 64-byte load
// holds 16 positions' 4 input bytes and one vpdpbusd adds 4 products into each of their 16 int32
// sums. The accumulators are rows of one output channel (no transpose before the requant), and
// the weights are packed once per weight content (isa/conv_weight_cache.h), not per instruction.
//
// Integer contract as in isa/simd_kernels.h: unsigned bytes times signed bytes, summed in int32
// lanes that wrap modulo 2^32; the caller keeps every true sum inside int32.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tpusim::simd {

struct QuadConv {
  const uint8_t* x;    // step k of position q: the bytes x[koff[k] + 4 * q + j], j < 4
  const size_t* koff;  // k4 byte offsets
  size_t k4;           // reduction steps (4 products each)
  const int8_t* w;     // packed weights, per block of 4 channels: [k4][4 channels][4 bytes]
  size_t channels;     // a multiple of 4
  size_t positions;    // q < positions; computed up to the next multiple of 16 (read that far)
  int32_t* acc;        // acc[o * ldc + q] = sum_k sum_j x[koff[k] + 4q + j] * w[o][k][j]
  size_t ldc;          // >= positions rounded up to 16
};

// The best Highway target of this CPU: vpdpbusd on AVX-512 VNNI, int16 multiply-adds on the other
// SIMD targets (AVX-512, AVX2, SSE4, SSSE3), conv_quads_u8s8_reference on the scalar one.
void conv_quads_u8s8(const QuadConv& a);
// The plain loops: the reference twin (and the scalar target's kernel).
void conv_quads_u8s8_reference(const QuadConv& a);
// Whether conv_quads_u8s8 runs a SIMD kernel (the fast conv2d path uses it only then).
bool conv_quads_simd();

}  // namespace tpusim::simd
