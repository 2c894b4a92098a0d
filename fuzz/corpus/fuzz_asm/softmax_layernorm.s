; softmax_layernorm.s — a transformer's two reductions over the features, rows x features
; [4, 8] laid out as [n=4, c=8, 1, 1] (features across the lanes): y = softmax(layernorm(x)).
;
; x int8 scale 0.1. layernorm: output int8 at scale 0.05 with M = 1 / (0.05 * 256) =
; 1342177280 * 2^-34, so g_c = 256 + 16c and b_c = 40(c - 4) stand for gamma_c = g_c / 256 and
; beta_c = b_c / 256; eps = 1e-5 * 8^2 / 0.1^2 rounds to 0. softmax: the exp table
; T[d] = round(2^15 * exp(-0.05 d)) for the input scale 0.05, output uint8 at 1/256
; (M = 2^-16 * 256 = 2^30 * 2^-38).

.arch default

.input  name=x shape=4x8 dtype=int8 scale=0.1 zp=0 addr=0x0
.output name=y shape=4x8 dtype=uint8 scale=0.00390625 zp=0 addr=0x40

; The exp table, 256 int32 entries (entry d for max - x = d).
.data addr=0x1000
.i32 32768 31170 29650 28204 26828 25520 24275 23091 21965 20894 19875 18905 17983 17106 16272 15479
.i32 14724 14006 13322 12673 12055 11467 10908 10376 9870 9388 8930 8495 8080 7686 7312 6955
.i32 6616 6293 5986 5694 5417 5152 4901 4662 4435 4218 4013 3817 3631 3454 3285 3125
.i32 2973 2828 2690 2559 2434 2315 2202 2095 1993 1895 1803 1715 1631 1552 1476 1404
.i32 1336 1271 1209 1150 1094 1040 990 941 895 852 810 771 733 697 663 631
.i32 600 571 543 517 491 467 445 423 402 383 364 346 329 313 298 283
.i32 270 257 244 232 221 210 200 190 181 172 164 156 148 141 134 127
.i32 121 115 110 104 99 94 90 85 81 77 73 70 67 63 60 57
.i32 54 52 49 47 45 42 40 38 36 35 33 31 30 28 27 26
.i32 24 23 22 21 20 19 18 17 16 16 15 14 13 13 12 12
.i32 11 10 10 9 9 9 8 8 7 7 7 6 6 6 5 5
.i32 5 5 4 4 4 4 4 3 3 3 3 3 3 3 2 2
.i32 2 2 2 2 2 2 2 2 1 1 1 1 1 1 1 1
.i32 1 1 1 1 1 1 1 1 1 1 1 1 1 1 0 0
.i32 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
.i32 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0

; (g, b) per feature, int32 pairs.
.data addr=0x1400
.i32 256 -160 272 -120 288 -80 304 -40 320 0 336 40 352 80 368 120

; ---- LMEM plan (byte offsets within every lane; feature c lives in lane c) -------------------
;   0x000  x  [4, 8, 1, 1]: 4 bytes per lane (sn = 1)
;   0x010  (g, b) of feature c in lane c
;   0x020  the exp table, one copy in each of lanes 0..7 (1 KiB)
;   0x420  layernorm output; 0x430 softmax output

.gdma
dma.load dtype=int8 n=4 c=8 h=1 w=1 src=0x0 src_sn=8 src_sc=1 src_sh=1 src_sw=1 dst=0x0 dst_sn=1 dst_sc=1 dst_sh=1 dst_sw=1
dma.load dtype=int32 n=1 c=8 h=1 w=2 src=0x1400 src_sn=16 src_sc=2 src_sh=2 src_sw=1 dst=0x10 dst_sn=2 dst_sc=2 dst_sh=2 dst_sw=1
dma.load dtype=int32 n=1 c=8 h=1 w=256 src=0x1000 src_sn=256 src_sc=0 src_sh=256 src_sw=1 dst=0x20 dst_sn=256 dst_sc=256 dst_sh=256 dst_sw=1
sync count=3          ; TIU: sync, layernorm, softmax done
dma.store dtype=uint8 n=4 c=8 h=1 w=1 src=0x430 src_sn=1 src_sc=1 src_sh=1 src_sw=1 dst=0x40 dst_sn=8 dst_sc=1 dst_sh=1 dst_sw=1
end

.tiu
sync count=3          ; GDMA: the three loads done
layernorm dst=0x420 src=0x0 params=0x10 n=4 c=8 h=1 w=1 in_dtype=int8 eps=0 out_dtype=int8 out_zp=0 m0=1342177280 shift=34 clamp_lo=-128 clamp_hi=127
softmax dst=0x430 src=0x420 table=0x20 n=4 c=8 h=1 w=1 in_dtype=int8 out_dtype=uint8 out_zp=0 m0=1073741824 shift=38 clamp_lo=0 clamp_hi=255
end
