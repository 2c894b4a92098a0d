; a load, a requant and a store, synchronised
.arch edge
.input  name=x shape=1x8x2x2 dtype=int8 scale=0.5 zp=0 addr=0x0
.output name=y shape=1x8x2x2 dtype=int8 scale=0.5 zp=-1 addr=0x40
.data addr=0x100
.i8 1 -2 3
.i32 -7 70000
.gdma
.node load
dma.load dtype=int8 n=1 c=8 h=2 w=2 src=0x0 src_sn=32 src_sc=4 src_sh=2 src_sw=1 dst=0x0 dst_sn=4 dst_sc=4 dst_sh=2 dst_sw=1
.node -
sync count=2
dma.store dtype=int8 n=1 c=8 h=2 w=2 src=0x10 src_sn=4 src_sc=4 src_sh=2 src_sw=1 dst=0x40 dst_sn=32 dst_sc=4 dst_sh=2 dst_sw=1
end
.tiu
sync count=1
pool dst=0x10 src=0x0 mode=max n=1 c=8 ih=2 iw=2 kh=1 kw=1 stride_h=1 stride_w=1 in_dtype=int8 in_zp=0 out_dtype=int8 out_zp=-1 m0=1073741824 shift=30 clamp_lo=-128 clamp_hi=127
end
