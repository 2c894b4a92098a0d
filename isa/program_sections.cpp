// Payload encoders and decoders of the .tpu sections (layout in docs/tpu-format.md).
#include "isa/program_sections.h"

#include <fmt/format.h>

#include <limits>

#include "base/error.h"

namespace tpusim::tpu {

std::vector<uint8_t> encode_arch(const ArchRef& a) {
  ByteWriter w;
  w.str(a.name);
  w.u64(a.fingerprint);
  w.u32(a.lanes);
  w.u32(a.lane_bytes);
  w.u64(a.ddr_bytes);
  return std::move(w.buffer());
}

std::vector<uint8_t> encode_code(const std::vector<Instr>& code, const char* section) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < code.size(); ++i) {
    try {
      encode(code[i], out);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: instruction {}: {}", section, i, e.what()));
    }
  }
  return out;
}

std::vector<uint8_t> encode_data(const std::vector<DataBlock>& data) {
  ByteWriter w;
  w.count(data.size());
  for (const DataBlock& d : data) {
    w.u64(d.ddr_addr);
    w.u64(d.bytes.size());
    w.bytes(d.bytes);
  }
  return std::move(w.buffer());
}

std::vector<uint8_t> encode_tensors(const std::vector<TensorDesc>& ts, const char* section) {
  ByteWriter w;
  w.count(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const TensorDesc& t = ts[i];
    if (t.shape.size() > 255)
      throw Error(fmt::format("{}: tensor {}: rank {} cannot be encoded", section, i, t.shape.size()));
    w.str(t.name);
    w.u8(static_cast<uint8_t>(t.dtype));
    w.u8(static_cast<uint8_t>(t.shape.size()));
    for (int64_t d : t.shape) w.u64(static_cast<uint64_t>(d));
    w.f32(t.scale);
    w.i32(t.zero_point);
    w.u64(t.ddr_addr);
  }
  return std::move(w.buffer());
}

std::vector<uint8_t> encode_debug(const std::vector<DebugEntry>& debug) {
  ByteWriter w;
  w.count(debug.size());
  for (const DebugEntry& d : debug) {
    w.u8(static_cast<uint8_t>(d.engine));
    w.u32(d.index);
    w.str(d.node);
  }
  return std::move(w.buffer());
}

// ---- decoding ---------------------------------------------------------------------------------

ArchRef decode_arch(ByteReader& r) {
  ArchRef a;
  a.name = r.str("name", kTpuMaxString);
  a.fingerprint = r.u64("fingerprint");
  a.lanes = r.u32("lanes");
  a.lane_bytes = r.u32("lane_bytes");
  a.ddr_bytes = r.u64("ddr_bytes");
  return a;
}

std::vector<Instr> decode_code(ByteReader& r) {
  std::vector<Instr> code;
  while (r.remaining() > 0) {
    size_t used = 0;
    std::string err;
    auto in = decode(r.rest(), &used, &err);
    if (!in) r.fail(fmt::format("instruction {}: {}", code.size(), err));
    code.push_back(*in);
    r.skip(used, "instruction");
  }
  return code;
}

std::vector<DataBlock> decode_data(ByteReader& r) {
  const uint32_t count = r.u32("block count");
  r.expect_records(count, 16, "data blocks");
  std::vector<DataBlock> data(count);
  for (uint32_t i = 0; i < count; ++i) {
    r.item(fmt::format("block {}", i));
    data[i].ddr_addr = r.u64("ddr address");
    const uint64_t size = r.u64("size");
    auto b = r.bytes(size, "contents");
    data[i].bytes.assign(b.begin(), b.end());
  }
  r.item("");
  return data;
}

std::vector<TensorDesc> decode_tensors(ByteReader& r) {
  const uint32_t count = r.u32("tensor count");
  r.expect_records(count, 22, "tensors");  // smallest record: empty name, rank 0
  std::vector<TensorDesc> ts(count);
  for (uint32_t i = 0; i < count; ++i) {
    TensorDesc& t = ts[i];
    r.item(fmt::format("tensor {}", i));
    t.name = r.str("name", kTpuMaxString);
    const uint8_t dtype = r.u8("dtype");
    if (!valid_dtype(dtype)) r.fail_last(fmt::format("dtype id {} is not an element type", dtype));
    t.dtype = static_cast<DType>(dtype);
    const uint8_t rank = r.u8("rank");
    if (rank > kTpuMaxRank) r.fail_last(fmt::format("rank {} exceeds {}", rank, kTpuMaxRank));
    for (uint8_t d = 0; d < rank; ++d) {
      const uint64_t dim = r.u64("dimension");
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        r.fail_last(fmt::format("dimension {} is {}, too large", d, dim));
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    t.scale = r.f32("scale");
    t.zero_point = r.i32("zero point");
    t.ddr_addr = r.u64("ddr address");
  }
  r.item("");
  return ts;
}

std::vector<DebugEntry> decode_debug(ByteReader& r) {
  const uint32_t count = r.u32("entry count");
  r.expect_records(count, 9, "entries");  // smallest record: empty node name
  std::vector<DebugEntry> debug(count);
  for (uint32_t i = 0; i < count; ++i) {
    r.item(fmt::format("entry {}", i));
    const uint8_t engine = r.u8("engine");
    if (engine > static_cast<uint8_t>(Engine::Tiu))
      r.fail_last(fmt::format("engine id {} is not gdma (0) or tiu (1)", engine));
    debug[i].engine = static_cast<Engine>(engine);
    debug[i].index = r.u32("instruction index");
    debug[i].node = r.str("node name", kTpuMaxString);
  }
  r.item("");
  return debug;
}

}  // namespace tpusim::tpu
