; conv_relu_pool.s — one conv block by hand: y = maxpool2x2(relu(conv3x3(x) + bias)).
;
;   x [1,4,8,8] int8 (DDR 0x0) ─► conv2d 3x3 pad 1, 8 filters, per-channel requant, ReLU
;                               ─► max pool 2x2 stride 2 ─► y [1,8,4,4] int8 (DDR 0x100)
;
; Build and inspect:  tpusim asm examples/conv_relu_pool.s -o conv.tpu && tpusim info conv.tpu
;
; Quantization: x has scale 1/255 and zero point -128 (an image in [0, 1]); weights are symmetric
; per output channel (w_q = round(w / s_w), s_w = absmax / 127); the int32 bias is at scale
; s_in * s_w; y has scale 0.02 and zero point -128, so real 0 is -128 and ReLU is clamp_lo = -128.

.arch default                     ; 16 lanes x 32 KiB LMEM, 256 MiB DDR

.input  name=x shape=1x4x8x8 dtype=int8 scale=0.003921569 zp=-128 addr=0x0
.output name=y shape=1x8x4x4 dtype=int8 scale=0.02 zp=-128 addr=0x100

; ---- constants in DDR ------------------------------------------------------------------------

; Weights [oc=8, ic=4, 3, 3] int8, row-major: one line per (oc, ic) 3x3 kernel.
.data addr=0x1000
.i8  -64    0   64 -127    0  127  -64    0   64   ; oc0 ic0  sobel-x of channel 0
.i8    0    0    0    0    0    0    0    0    0   ; oc0 ic1
.i8    0    0    0    0    0    0    0    0    0   ; oc0 ic2
.i8    0    0    0    0    0    0    0    0    0   ; oc0 ic3
.i8  -64 -127  -64    0    0    0   64  127   64   ; oc1 ic0  sobel-y of channel 0
.i8    0    0    0    0    0    0    0    0    0   ; oc1 ic1
.i8    0    0    0    0    0    0    0    0    0   ; oc1 ic2
.i8    0    0    0    0    0    0    0    0    0   ; oc1 ic3
.i8    0    0    0    0    0    0    0    0    0   ; oc2 ic0
.i8    0   32    0   32 -127   32    0   32    0   ; oc2 ic1  laplacian of channel 1
.i8    0    0    0    0    0    0    0    0    0   ; oc2 ic2
.i8    0    0    0    0    0    0    0    0    0   ; oc2 ic3
.i8    0    0    0    0    0    0    0    0    0   ; oc3 ic0
.i8  127  127  127  127  127  127  127  127  127   ; oc3 ic1  3x3 mean of channel 1
.i8    0    0    0    0    0    0    0    0    0   ; oc3 ic2
.i8    0    0    0    0    0    0    0    0    0   ; oc3 ic3
.i8    0    0    0    0    0    0    0    0    0   ; oc4 ic0
.i8    0    0    0    0    0    0    0    0    0   ; oc4 ic1
.i8  -64    0   64 -127    0  127  -64    0   64   ; oc4 ic2  sobel-x of channel 2
.i8    0    0    0    0    0    0    0    0    0   ; oc4 ic3
.i8    0    0    0    0    0    0    0    0    0   ; oc5 ic0
.i8    0    0    0    0    0    0    0    0    0   ; oc5 ic1
.i8    0    0    0    0    0    0    0    0    0   ; oc5 ic2
.i8  -64 -127  -64    0    0    0   64  127   64   ; oc5 ic3  sobel-y of channel 3
.i8    0    0    0    0  127    0    0    0    0   ; oc6 ic0  sum of the four centre taps
.i8    0    0    0    0  127    0    0    0    0   ; oc6 ic1
.i8    0    0    0    0  127    0    0    0    0   ; oc6 ic2
.i8    0    0    0    0  127    0    0    0    0   ; oc6 ic3
.i8    0    0    0    0    0    0    0    0    0   ; oc7 ic0
.i8    0    0    0    0    0    0    0    0    0   ; oc7 ic1
.i8    0    0    0    0    0    0    0    0    0   ; oc7 ic2
.i8  127   64    0   64    0  -64    0  -64 -127   ; oc7 ic3  diagonal edge of channel 3

; Bias [8] int32 at scale s_in * s_w of each channel (real 0.05, 0.05, 0, -0.1, 0.05, 0.05, -0.5, 0).
.data addr=0x1200
.i32 810 810 0 -29147 810 810 -16192 0

; Requant table [8] of (M0, shift): M0 * 2^-shift = s_in * s_w / s_out, M0 in [2^30, 2^31).
.data addr=0x1240
.i32 1697563112 39    ; oc0  M = 0.00308785 (s_w = 2/127)
.i32 1697563112 39    ; oc1
.i32 1697563112 38    ; oc2  M = 0.0061757  (s_w = 4/127)
.i32 1508944989 43    ; oc3  M = 0.000171547 (s_w = (1/9)/127)
.i32 1697563112 39    ; oc4
.i32 1697563112 39    ; oc5
.i32 1697563112 40    ; oc6  M = 0.00154392 (s_w = 1/127)
.i32 1697563112 39    ; oc7

; ---- LMEM plan (byte offsets within every lane; channel c lives in lane c % 16) --------------
;   0x000  x        [1,4,8,8]   64 B in lanes 0-3 (compact: sw=1 sh=8 sc=64 sn=64)
;   0x040  weights  36 B per output channel, lane oc holds its [ic, kh, kw] kernels
;   0x080  bias     one int32 per output channel (4-byte aligned)
;   0x088  rq table one (M0, shift) int32 pair per output channel
;   0x100  conv out [1,8,8,8]   64 B in lanes 0-7
;   0x140  pool out [1,8,4,4]   16 B in lanes 0-7

; ---- GDMA stream -----------------------------------------------------------------------------
.gdma
.node conv1
; x: DDR NCHW (strides 256, 64, 8, 1) -> lanes 0-3, 64 bytes each.
dma.load dtype=int8 n=1 c=4 h=8 w=8 src=0x0 src_sn=256 src_sc=64 src_sh=8 src_sw=1 dst=0x0 dst_sn=64 dst_sc=64 dst_sh=8 dst_sw=1
; Weights as a [1, oc=8, 1, ic*9=36] tensor: output channel oc lands in lane oc.
dma.load dtype=int8 n=1 c=8 h=1 w=36 src=0x1000 src_sn=288 src_sc=36 src_sh=36 src_sw=1 dst=0x40 dst_sn=36 dst_sc=36 dst_sh=36 dst_sw=1
; Bias as [1, 8, 1, 1] int32 (strides count elements, not bytes).
dma.load dtype=int32 n=1 c=8 h=1 w=1 src=0x1200 src_sn=8 src_sc=1 src_sh=1 src_sw=1 dst=0x80 dst_sn=1 dst_sc=1 dst_sh=1 dst_sw=1
; Requant table as [1, 8, 1, 2] int32: the pair of channel oc lands in lane oc.
dma.load dtype=int32 n=1 c=8 h=1 w=2 src=0x1240 src_sn=16 src_sc=2 src_sh=2 src_sw=1 dst=0x88 dst_sn=2 dst_sc=2 dst_sh=2 dst_sw=1
.node -
; Wait until the TIU has completed 3 instructions (its sync, conv2d and pool).
sync count=3
.node pool1
; y: lanes 0-7, 16 bytes each -> DDR NCHW (strides 128, 16, 4, 1).
dma.store dtype=int8 n=1 c=8 h=4 w=4 src=0x140 src_sn=16 src_sc=16 src_sh=4 src_sw=1 dst=0x100 dst_sn=128 dst_sc=16 dst_sh=4 dst_sw=1
.node -
end

; ---- TIU stream ------------------------------------------------------------------------------
.tiu
; Wait until the GDMA has completed its 4 loads.
sync count=4
.node conv1
; 3x3, stride 1, pad 1 (padding is in_zp, i.e. real 0): [1,4,8,8] -> [1,8,8,8].
; Per-channel requant from the rq table; ReLU is the clamp at out_zp = -128 (real 0).
conv2d dst=0x100 src=0x0 weight=0x40 bias=0x80 n=1 ic=4 ih=8 iw=8 oc=8 kh=3 kw=3 stride_h=1 stride_w=1 pad_t=1 pad_b=1 pad_l=1 pad_r=1 dil_h=1 dil_w=1 groups=1 in_dtype=int8 w_dtype=int8 in_zp=-128 has_bias=1 out_dtype=int8 out_zp=-128 rq_per_channel=1 rq=0x88 clamp_lo=-128 clamp_hi=127
.node pool1
; 2x2 max, stride 2: [1,8,8,8] -> [1,8,4,4]. Same scale in and out: M0 = 2^30, shift 30 is exactly 1.
pool dst=0x140 src=0x100 mode=max n=1 c=8 ih=8 iw=8 kh=2 kw=2 stride_h=2 stride_w=2 in_dtype=int8 in_zp=-128 out_dtype=int8 out_zp=-128 m0=1073741824 shift=30 clamp_lo=-128 clamp_hi=127
.node -
end
