// The fast twins of eltwise and lut, over the Highway kernels of isa/simd_eltwise_lut.h. Same
// effect as exec_eltwise and exec_lut in semantics_tiu.cpp (the reference twins); the tests in
// tests/isa/semantics_fast_eltwise_lut_test.cpp compare the two.
//
// eltwise: per (n, c) plane, in chunks, both inputs are widened into int32 rows before any output
// is written (so in place, dst == a or b, reads every input first, as the reference does), then
// one kernel call computes the rescales, the combine and the requant; 8-bit results are stored by
// the kernel, others packed from an int32 row.
// lut: each lane's table is read as bytes (the low byte of every entry: all a 4- or 8-bit store
// keeps), 8-bit ones in place in LMEM; 8-bit planes are mapped in place, 4-bit ones through byte
// rows.
#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "isa/numerics.h"
#include "isa/semantics_internal.h"
#include "isa/simd_eltwise_lut.h"

namespace tpusim::sem {

namespace {

static_assert(std::endian::native == std::endian::little, "int32 elements are read as host int32");

constexpr uint64_t kChunk = 4096;  // elements per kernel call: the rows stay in L1

// dst[i] = element (index + i) as int32, for i < n.
void widen_row(const uint8_t* base, uint64_t index, DType t, int32_t* dst, uint64_t n) {
  switch (t) {
    case DType::Int8: {
      const auto* s = reinterpret_cast<const int8_t*>(base + index);
      for (uint64_t i = 0; i < n; ++i) dst[i] = s[i];
      return;
    }
    case DType::UInt8: {
      const uint8_t* s = base + index;
      for (uint64_t i = 0; i < n; ++i) dst[i] = s[i];
      return;
    }
    case DType::Int32: std::memcpy(dst, base + index * 4, n * 4); return;
    case DType::Int4:
    case DType::UInt4: {
      const bool sgn = t == DType::Int4;
      uint64_t i = 0, e = index;
      if (e % 2 == 1 && i < n) dst[i++] = unpack_nibble(base[e++ / 2], 1, sgn);
      for (; i + 2 <= n; i += 2, e += 2) {
        const uint8_t b = base[e / 2];
        dst[i] = unpack_nibble(b, 0, sgn), dst[i + 1] = unpack_nibble(b, 1, sgn);
      }
      if (i < n) dst[i] = unpack_nibble(base[e / 2], 0, sgn);
      return;
    }
  }
}

// Element (index + i) = y[i] for i < n, for int32 and 4-bit types (each code's low bits; the values
// are already inside the type). Only the nibbles of these elements are written.
void store_codes(uint8_t* base, uint64_t index, DType t, const int32_t* y, uint64_t n) {
  if (t == DType::Int32) {
    std::memcpy(base + index * 4, y, n * 4);
    return;
  }
  uint64_t i = 0, e = index;
  if (e % 2 == 1 && i < n) store_elem(base, e++, t, y[i++]);
  uint8_t* p = base + e / 2;
  for (; i + 2 <= n; i += 2, ++p) *p = static_cast<uint8_t>((y[i] & 0xF) | ((y[i + 1] & 0xF) << 4));
  if (i < n) store_elem(base, index + i, t, y[i]);
}

}  // namespace

void exec_eltwise_fast(const Instr& in, const MemView& m, ExecCounters& counters) {
  const auto e = ops::Eltwise::from(in);
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &a = ops.get("a"), &b = ops.get("b"), &dst = ops.get("dst");
  const Requantizer rq = make_requantizer(requant_fields(e), ops, m, dst.c, "eltwise");
  simd::EltwiseRow row{static_cast<int>(e.op),
                       static_cast<int32_t>(e.a_zp),
                       static_cast<int32_t>(e.a_m0),
                       static_cast<int>(e.a_shift),
                       static_cast<int32_t>(e.b_zp),
                       static_cast<int32_t>(e.b_m0),
                       static_cast<int>(e.b_shift),
                       0,
                       0,
                       rq.zp,
                       rq.lo,
                       rq.hi};
  const bool bytes_out = dst.dtype == DType::Int8 || dst.dtype == DType::UInt8;
  const uint64_t plane_elems = dst.h * dst.w;
  thread_local std::vector<int32_t> xa, xb, y;
  xa.resize(kChunk), xb.resize(kChunk), y.resize(kChunk);
  for (uint64_t n = 0; n < dst.n; ++n)
    for (uint64_t c = 0; c < dst.c; ++c) {
      const Plane pa = plane(a, m, n, c), pb = plane(b, m, n, c), out = plane(dst, m, n, c);
      row.m0 = rq.m0[rq.per_channel ? c : 0], row.shift = rq.shift[rq.per_channel ? c : 0];
      for (uint64_t i = 0; i < plane_elems; i += kChunk) {
        const uint64_t len = std::min(kChunk, plane_elems - i);
        widen_row(pa.base, pa.index + i, a.dtype, xa.data(), len);
        widen_row(pb.base, pb.index + i, b.dtype, xb.data(), len);
        if (bytes_out) {
          counters.acc_overflows +=
              simd::eltwise_row_u8(xa.data(), xb.data(), len, row, out.base + out.index + i);
          continue;
        }
        counters.acc_overflows += simd::eltwise_row(xa.data(), xb.data(), len, row, y.data());
        store_codes(out.base, out.index + i, dst.dtype, y.data(), len);
      }
    }
}

void exec_lut_fast(const Instr& in, const MemView& m, ExecCounters&) {
  const Operands ops = operands(in, m.geo.lanes);
  const Tensor &src = ops.get("src"), &table = ops.get("table"), &dst = ops.get("dst");
  const uint64_t entries = table.w, lanes_used = table.c;
  // Each lane's table as bytes: 8-bit entries read in place (no output overlaps the table), 4-bit
  // ones unpacked (decoding every lane's table through load_elem cost more than the lookups).
  thread_local std::vector<uint8_t> nibbles;
  thread_local std::vector<const uint8_t*> tables;
  tables.resize(lanes_used);
  if (bits(table.dtype) == 4) nibbles.resize(lanes_used * entries);
  for (uint64_t l = 0; l < lanes_used; ++l) {
    const Plane tab = plane(table, m, 0, l);
    if (bits(table.dtype) == 8) {
      tables[l] = tab.base + tab.index;
      continue;
    }
    for (uint64_t i = 0, e = tab.index; i < entries; ++i, ++e)
      nibbles[l * entries + i] = static_cast<uint8_t>((tab.base[e / 2] >> (4 * (e % 2))) & 0xF);
    tables[l] = nibbles.data() + l * entries;
  }
  const bool bytes_in = bits(src.dtype) == 8, bytes_out = bits(dst.dtype) == 8;
  // Code -> entry: code - qmin, as a xor on the code's byte (int8: ^0x80) or nibble (int4: ^8).
  const auto flip = static_cast<uint8_t>(-traits(src.dtype).qmin);
  const uint64_t plane_elems = dst.h * dst.w;
  // 4-bit codes in and out: a byte holds two codes, so per lane a 256-entry table of code pairs maps
  // whole bytes (where input and output planes start at the same nibble; worth it on larger planes).
  const bool pairs = !bytes_in && !bytes_out && plane_elems >= 256;
  thread_local std::vector<uint8_t> pair_tables;
  if (pairs) pair_tables.resize(lanes_used * 256);
  for (uint64_t l = 0; l < lanes_used && pairs; ++l)
    for (unsigned b = 0; b < 256; ++b)
      pair_tables[l * 256 + b] =
          static_cast<uint8_t>(tables[l][(b & 0xF) ^ flip] | tables[l][(b >> 4) ^ flip] << 4);
  thread_local std::vector<uint8_t> x8, y8;
  thread_local std::vector<int32_t> y;
  for (uint64_t n = 0; n < dst.n; ++n)
    for (uint64_t c = 0; c < dst.c; ++c) {
      const Plane x = plane(src, m, n, c), out = plane(dst, m, n, c);
      const uint8_t* t = tables[c % m.geo.lanes];
      const auto code = [&](uint64_t i) {  // input i's table index
        const uint64_t e = x.index + i;
        return static_cast<uint8_t>(((x.base[e / 2] >> (4 * (e % 2))) & 0xF) ^ flip);
      };
      if (pairs && x.index % 2 == out.index % 2) {  // first and last odd nibbles one by one
        uint64_t i = x.index % 2;
        if (i == 1) store_elem(out.base, out.index, dst.dtype, t[code(0)]);
        const uint64_t bytes = (plane_elems - i) / 2;
        simd::lut_u8(x.base + (x.index + i) / 2, bytes, 0, pair_tables.data() + (c % m.geo.lanes) * 256, 256,
                     out.base + (out.index + i) / 2);
        if ((i += 2 * bytes) < plane_elems) store_elem(out.base, out.index + i, dst.dtype, t[code(i)]);
        continue;
      }
      const uint8_t* codes = x.base + x.index;
      uint8_t xor_in = flip;
      if (!bytes_in) {  // table indexes as bytes
        x8.resize(plane_elems);
        for (uint64_t i = 0; i < plane_elems; ++i) x8[i] = code(i);
        codes = x8.data(), xor_in = 0;
      }
      if (bytes_out) {
        simd::lut_u8(codes, plane_elems, xor_in, t, entries, out.base + out.index);
        continue;
      }
      y8.resize(plane_elems), y.resize(plane_elems);
      simd::lut_u8(codes, plane_elems, xor_in, t, entries, y8.data());
      std::copy(y8.begin(), y8.end(), y.begin());
      store_codes(out.base, out.index, dst.dtype, y.data(), plane_elems);
    }
}

}  // namespace tpusim::sem
