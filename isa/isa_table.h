// THE instruction set of tpusim, defined once. Everything else — the typed instruction structs, the
// encoder and decoder, the assembler and disassembler, docs/isa.md's field lists, the compiler's
// code generator and the simulator's dispatch — is derived from the X-macro tables below. What
// differs per opcode (operands, checker, kernels, timing) lives in traits tables built from this
// one (isa/opcode_traits.h): an opcode added here without its traits does not compile. The steps:
// docs/adding-an-instruction.md.
//
// An instruction is a little-endian bit string: bits 0..7 hold the opcode, then each field in the
// order listed, least significant bit first. Its length is its field bits rounded up to whole
// 64-bit words (derived, never written down); unused high bits must be zero.
//
// Field kinds: U unsigned, S two's-complement signed, D element type (isa/dtype.h ids),
// P pool mode (0 max, 1 avg), E elementwise op (0 add, 1 mul, 2 max).
//
// LMEM addressing ("local tensor"): LMEM is `lanes` lanes of `lane_bytes` bytes. Element
// (n, c, h, w) of a local tensor at byte offset A with element strides (sn, sc, sh, sw) lives in
// lane c % lanes at element offset e = n*sn + (c / lanes)*sc + h*sh + w*sw from A, i.e. at byte
// A + e*bits/8 (4-bit elements: low nibble first). TIU operands are compact local tensors:
// sw = 1, sh = W, sc = H*W, sn = ceil(C/lanes)*H*W. DDR tensors use the same formula without lanes:
// element offset n*sn + c*sc + h*sh + w*sw from the byte address.
//
// Opcode ids are part of the .tpu format: never reuse or renumber them.
#pragma once

// ---- field lists: F(name, bits, kind, "meaning") -------------------------------------------

#define TPUSIM_FIELDS_NONE(F)

#define TPUSIM_FIELDS_SYNC(F) \
  F(count, 32, U, "wait until the other engine has completed at least this many instructions")

#define TPUSIM_FIELDS_DMA(F)                                                             \
  F(dtype, 3, D, "element type (int4/uint4 packed two per byte)")                        \
  F(n, 16, U, "shape: batch")                                                            \
  F(c, 16, U, "shape: channels")                                                         \
  F(h, 16, U, "shape: height")                                                           \
  F(w, 16, U, "shape: width")                                                            \
  F(src, 40, U, "source byte address (DDR) or byte offset within each lane (LMEM)")      \
  F(src_sn, 32, U, "source element stride of n")                                         \
  F(src_sc, 32, U, "source element stride of c (LMEM: per lane, of c / lanes)")          \
  F(src_sh, 32, U, "source element stride of h")                                         \
  F(src_sw, 32, U, "source element stride of w")                                         \
  F(dst, 40, U, "destination byte address (DDR) or byte offset within each lane (LMEM)") \
  F(dst_sn, 32, U, "destination element stride of n")                                    \
  F(dst_sc, 32, U, "destination element stride of c (LMEM: per lane, of c / lanes)")     \
  F(dst_sh, 32, U, "destination element stride of h")                                    \
  F(dst_sw, 32, U, "destination element stride of w")

// The requant tail shared by every TIU instruction that writes integers.
#define TPUSIM_FIELDS_REQUANT(F)                                                              \
  F(out_dtype, 3, D, "output element type")                                                   \
  F(out_zp, 16, S, "output zero point")                                                       \
  F(rq_per_channel, 1, U, "1: (M0, shift) per channel from the rq table; 0: m0/shift fields") \
  F(rq, 24, U, "LMEM offset of the per-channel table of int32 pairs (M0, shift)")             \
  F(m0, 31, U, "per-tensor multiplier M0")                                                    \
  F(shift, 6, U, "per-tensor right shift")                                                    \
  F(clamp_lo, 32, S, "lower clamp of the output")                                             \
  F(clamp_hi, 32, S, "upper clamp of the output")

#define TPUSIM_FIELDS_CONV2D(F)                                                        \
  F(dst, 24, U, "LMEM offset of the output [n, oc, oh, ow]")                           \
  F(src, 24, U, "LMEM offset of the input [n, ic, ih, iw]")                            \
  F(weight, 24, U, "LMEM offset of the weights: channel oc holds [ic/groups, kh, kw]") \
  F(bias, 24, U, "LMEM offset of the int32 bias, one per output channel")              \
  F(n, 16, U, "batch")                                                                 \
  F(ic, 16, U, "input channels")                                                       \
  F(ih, 16, U, "input height")                                                         \
  F(iw, 16, U, "input width")                                                          \
  F(oc, 16, U, "output channels")                                                      \
  F(kh, 8, U, "kernel height")                                                         \
  F(kw, 8, U, "kernel width")                                                          \
  F(stride_h, 8, U, "vertical stride")                                                 \
  F(stride_w, 8, U, "horizontal stride")                                               \
  F(pad_t, 8, U, "zero-point padding above")                                           \
  F(pad_b, 8, U, "zero-point padding below")                                           \
  F(pad_l, 8, U, "zero-point padding left")                                            \
  F(pad_r, 8, U, "zero-point padding right")                                           \
  F(dil_h, 8, U, "vertical dilation")                                                  \
  F(dil_w, 8, U, "horizontal dilation")                                                \
  F(groups, 16, U, "groups (ic = oc = groups for depthwise)")                          \
  F(in_dtype, 3, D, "input element type")                                              \
  F(w_dtype, 3, D, "weight element type (int8 or int4, symmetric)")                    \
  F(in_zp, 16, S, "input zero point (subtracted; also the padding value)")             \
  F(has_bias, 1, U, "1: add the bias")                                                 \
  TPUSIM_FIELDS_REQUANT(F)

#define TPUSIM_FIELDS_MATMUL(F)                                              \
  F(dst, 24, U, "LMEM offset of the output [m, n, 1, 1]")                    \
  F(src, 24, U, "LMEM offset of the input [m, k, 1, 1]")                     \
  F(weight, 24, U, "LMEM offset of the weights: channel j holds row j, [k]") \
  F(bias, 24, U, "LMEM offset of the int32 bias, one per output column")     \
  F(m, 16, U, "rows (batch)")                                                \
  F(k, 16, U, "reduction length")                                            \
  F(n, 16, U, "output columns (features)")                                   \
  F(in_dtype, 3, D, "input element type")                                    \
  F(w_dtype, 3, D, "weight element type (int8 or int4, symmetric)")          \
  F(in_zp, 16, S, "input zero point (subtracted)")                           \
  F(has_bias, 1, U, "1: add the bias")                                       \
  TPUSIM_FIELDS_REQUANT(F)

#define TPUSIM_FIELDS_POOL(F)                                                               \
  F(dst, 24, U, "LMEM offset of the output [n, c, oh, ow]")                                 \
  F(src, 24, U, "LMEM offset of the input [n, c, ih, iw]")                                  \
  F(mode, 1, P, "max or avg")                                                               \
  F(n, 16, U, "batch")                                                                      \
  F(c, 16, U, "channels")                                                                   \
  F(ih, 16, U, "input height")                                                              \
  F(iw, 16, U, "input width")                                                               \
  F(kh, 16, U, "window height")                                                             \
  F(kw, 16, U, "window width")                                                              \
  F(stride_h, 8, U, "vertical stride")                                                      \
  F(stride_w, 8, U, "horizontal stride")                                                    \
  F(pad_t, 8, U, "padding above (never part of a max; counted by avg only with count_pad)") \
  F(pad_b, 8, U, "padding below")                                                           \
  F(pad_l, 8, U, "padding left")                                                            \
  F(pad_r, 8, U, "padding right")                                                           \
  F(count_pad, 1, U, "avg: 1 divides by kh*kw, 0 by the number of non-pad elements")        \
  F(in_dtype, 3, D, "input element type")                                                   \
  F(in_zp, 16, S, "input zero point (subtracted)")                                          \
  TPUSIM_FIELDS_REQUANT(F)

#define TPUSIM_FIELDS_ELTWISE(F)                          \
  F(dst, 24, U, "LMEM offset of the output [n, c, h, w]") \
  F(a, 24, U, "LMEM offset of input a [n, c, h, w]")      \
  F(b, 24, U, "LMEM offset of input b [n, c, h, w]")      \
  F(op, 2, E, "add, mul or max")                          \
  F(n, 16, U, "batch")                                    \
  F(c, 16, U, "channels")                                 \
  F(h, 16, U, "height")                                   \
  F(w, 16, U, "width")                                    \
  F(a_dtype, 3, D, "element type of a")                   \
  F(a_zp, 16, S, "zero point of a")                       \
  F(a_m0, 31, U, "rescale multiplier of a")               \
  F(a_shift, 6, U, "rescale shift of a")                  \
  F(b_dtype, 3, D, "element type of b")                   \
  F(b_zp, 16, S, "zero point of b")                       \
  F(b_m0, 31, U, "rescale multiplier of b")               \
  F(b_shift, 6, U, "rescale shift of b")                  \
  TPUSIM_FIELDS_REQUANT(F)

#define TPUSIM_FIELDS_REQUANT_OP(F)                       \
  F(dst, 24, U, "LMEM offset of the output [n, c, h, w]") \
  F(src, 24, U, "LMEM offset of the input [n, c, h, w]")  \
  F(n, 16, U, "batch")                                    \
  F(c, 16, U, "channels")                                 \
  F(h, 16, U, "height")                                   \
  F(w, 16, U, "width")                                    \
  F(in_dtype, 3, D, "input element type")                 \
  F(in_zp, 16, S, "input zero point (subtracted)")        \
  TPUSIM_FIELDS_REQUANT(F)

// The look-up table of `lut` is `2^bits(in_dtype)` elements of out_dtype (256 for 8-bit inputs, 16
// for 4-bit), entry i the output for input code qmin(in_dtype) + i; every lane reads its own copy at
// the same offset `table` (the tensor [1, min(c, lanes), 1, entries]: replicate it with a dma.load
// whose source channel stride is 0).
#define TPUSIM_FIELDS_LUT(F)                                                              \
  F(dst, 24, U, "LMEM offset of the output [n, c, h, w]")                                 \
  F(src, 24, U, "LMEM offset of the input [n, c, h, w]")                                  \
  F(table, 24, U, "LMEM offset of the table, the same 2^bits(in_dtype) entries per lane") \
  F(n, 16, U, "batch")                                                                    \
  F(c, 16, U, "channels")                                                                 \
  F(h, 16, U, "height")                                                                   \
  F(w, 16, U, "width")                                                                    \
  F(in_dtype, 3, D, "input element type (indexes the table)")                             \
  F(out_dtype, 3, D, "output element type (of the table and dst)")

// softmax and layernorm reduce over the channels c at each position (n, h, w): a transformer's
// [rows, features] tensor lies as [rows, features, 1, 1], features across the lanes. Integer-only
// (docs/numerics.md, "Softmax and LayerNorm"); the requant tail is per tensor (rq_per_channel 0).
// softmax: m = max_c src; e_c = min(max(table[m - src_c], 0), 2^24); S = sum_c e_c;
//   acc_c = floor((e_c * 2^16 + floor(S / 2)) / S) (0 when S = 0): the probability in 16 fraction bits.
// layernorm: D = c; s1 = sum_c src_c, s2 = sum_c src_c^2; sigma = max(1, isqrt(D*s2 - s1^2 + eps));
//   acc_c = sat32(round_div((D*src_c - s1) * g_c, sigma) + b_c), round_div(a, q) = floor((2a + q) / 2q).
#define TPUSIM_FIELDS_SOFTMAX(F)                                                                       \
  F(dst, 24, U, "LMEM offset of the output [n, c, h, w]")                                              \
  F(src, 24, U, "LMEM offset of the input [n, c, h, w] (reduced over c)")                              \
  F(table, 24, U, "LMEM offset of the int32 exp table, 2^bits(in_dtype) entries (max - src) per lane") \
  F(n, 16, U, "batch")                                                                                 \
  F(c, 16, U, "channels: the axis reduced")                                                            \
  F(h, 16, U, "height")                                                                                \
  F(w, 16, U, "width")                                                                                 \
  F(in_dtype, 3, D, "input element type (8 or 4 bits)")                                                \
  TPUSIM_FIELDS_REQUANT(F)

#define TPUSIM_FIELDS_LAYERNORM(F)                                               \
  F(dst, 24, U, "LMEM offset of the output [n, c, h, w]")                        \
  F(src, 24, U, "LMEM offset of the input [n, c, h, w] (normalised over c)")     \
  F(params, 24, U, "LMEM offset of the per-channel table of int32 pairs (g, b)") \
  F(n, 16, U, "batch")                                                           \
  F(c, 16, U, "channels: the axis normalised")                                   \
  F(h, 16, U, "height")                                                          \
  F(w, 16, U, "width")                                                           \
  F(in_dtype, 3, D, "input element type (8 or 4 bits)")                          \
  F(eps, 32, U, "added to D*s2 - s1^2 (epsilon * D^2 / input scale^2, rounded)") \
  TPUSIM_FIELDS_REQUANT(F)

// ---- opcodes: X(id, Name, "mnemonic", engine, FIELDS, "semantics") --------------------------
// engine: Gdma and Tiu instructions live in that engine's stream; Sys ones in either.

#define TPUSIM_ISA(X)                                                                                    \
  X(0x01, End, "end", Sys, TPUSIM_FIELDS_NONE, "stop this engine's stream")                              \
  X(0x02, Sync, "sync", Sys, TPUSIM_FIELDS_SYNC,                                                         \
    "block until the other engine has completed >= count instructions (syncs and ends included)")        \
  X(0x10, DmaLoad, "dma.load", Gdma, TPUSIM_FIELDS_DMA, "copy a strided DDR tensor to a local tensor")   \
  X(0x11, DmaStore, "dma.store", Gdma, TPUSIM_FIELDS_DMA, "copy a local tensor to a strided DDR tensor") \
  X(0x12, DmaCopy, "dma.copy", Gdma, TPUSIM_FIELDS_DMA, "copy a local tensor to another local tensor")   \
  X(0x20, Conv2d, "conv2d", Tiu, TPUSIM_FIELDS_CONV2D,                                                   \
    "dst = requant(sum((src - in_zp) * weight) + bias), INT32 accumulation")                             \
  X(0x21, Matmul, "matmul", Tiu, TPUSIM_FIELDS_MATMUL,                                                   \
    "dst[i,j] = requant(sum_k (src[i,k] - in_zp) * weight[j,k] + bias[j])")                              \
  X(0x22, Pool, "pool", Tiu, TPUSIM_FIELDS_POOL,                                                         \
    "dst = requant(max(src) - in_zp) or requant(round(sum(src - in_zp) / count))")                       \
  X(0x23, Eltwise, "eltwise", Tiu, TPUSIM_FIELDS_ELTWISE,                                                \
    "dst = requant(op(rescale(a - a_zp), rescale(b - b_zp)))")                                           \
  X(0x24, Requant, "requant", Tiu, TPUSIM_FIELDS_REQUANT_OP,                                             \
    "dst = requant(src - in_zp): requantize or cast")                                                    \
  X(0x25, Lut, "lut", Tiu, TPUSIM_FIELDS_LUT,                                                            \
    "dst = table[src - qmin(in_dtype)]: look-up table, no requant")                                      \
  X(0x26, Softmax, "softmax", Tiu, TPUSIM_FIELDS_SOFTMAX,                                                \
    "dst = requant(2^16 * table[max - src] / sum(table[max - src])) over c: integer softmax")            \
  X(0x27, Layernorm, "layernorm", Tiu, TPUSIM_FIELDS_LAYERNORM,                                          \
    "dst = requant((D*src - sum(src)) * g / isqrt(D*sum(src^2) - sum(src)^2 + eps) + b) over c")
