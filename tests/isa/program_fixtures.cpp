// Fixtures shared by the .tpu container tests (declared in program_fixtures.h).
#include "tests/isa/program_fixtures.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "base/bytes.h"
#include "base/error.h"

using namespace tpusim;

namespace tpusim_test {

// A section's place per the section table (header layout of docs/tpu-format.md).
Section find_section(const std::vector<uint8_t>& bytes, uint32_t kind) {
  const uint64_t count = get_le_at(bytes, 28, 4);
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = kTpuHeaderBytes + i * kTpuSectionEntryBytes;
    if (get_le_at(bytes, at, 4) == kind) return {get_le_at(bytes, at + 4, 8), get_le_at(bytes, at + 12, 8)};
  }
  FAIL("no section of kind " << kind);
  return {};
}

// Input [1,16,8,8] int8 -> conv 3x3 16->16 with bias -> max pool 2x2 -> output [1,16,4,4], on the
// "default" architecture (16 lanes): every channel sits in its own lane at entry 0.
Program sample_program() {
  Program p;
  p.arch = ArchRef::of(arch_preset("default"));
  constexpr int64_t kDdrIn = 0x1000, kDdrWeights = 0x10000, kDdrBias = 0x20000, kDdrOut = 0x30000;
  constexpr int64_t kLmIn = 0, kLmWeights = 256, kLmBias = 512, kLmConv = 1024, kLmPool = 2048;
  const int64_t int8 = static_cast<int64_t>(DType::Int8), int32 = static_cast<int64_t>(DType::Int32);

  // dma fields: dtype n c h w | src sn sc sh sw | dst sn sc sh sw (DDR strides compact NCHW, LMEM
  // strides compact per lane).
  p.gdma = {
      ops::DmaLoad{int8, 1, 16, 8, 8, kDdrIn, 1024, 64, 8, 1, kLmIn, 64, 64, 8, 1}.instr(),
      ops::DmaLoad{int8, 1, 16, 1, 144, kDdrWeights, 2304, 144, 144, 1, kLmWeights, 144, 144, 144, 1}.instr(),
      ops::DmaLoad{int32, 1, 16, 1, 1, kDdrBias, 16, 1, 1, 1, kLmBias, 1, 1, 1, 1}.instr(),
      ops::Sync{3}.instr(),  // TIU: sync, conv, pool done
      ops::DmaStore{int8, 1, 16, 4, 4, kLmPool, 16, 16, 4, 1, kDdrOut, 256, 16, 4, 1}.instr(),
      ops::End{}.instr(),
  };
  ops::Conv2d conv;
  conv.dst = kLmConv, conv.src = kLmIn, conv.weight = kLmWeights, conv.bias = kLmBias;
  conv.n = 1, conv.ic = 16, conv.ih = 8, conv.iw = 8, conv.oc = 16, conv.kh = 3, conv.kw = 3;
  conv.stride_h = conv.stride_w = conv.dil_h = conv.dil_w = conv.groups = 1;
  conv.pad_t = conv.pad_b = conv.pad_l = conv.pad_r = 1;
  conv.in_dtype = conv.w_dtype = conv.out_dtype = int8;
  conv.in_zp = -3, conv.has_bias = 1, conv.out_zp = 5;
  conv.m0 = 1234567890, conv.shift = 38, conv.clamp_lo = -128, conv.clamp_hi = 127;
  ops::Pool pool;
  pool.dst = kLmPool, pool.src = kLmConv, pool.mode = static_cast<int64_t>(PoolMode::Max);
  pool.n = 1, pool.c = 16, pool.ih = 8, pool.iw = 8, pool.kh = pool.kw = 2, pool.stride_h = pool.stride_w = 2;
  pool.in_dtype = pool.out_dtype = int8, pool.in_zp = 5, pool.out_zp = 5;
  pool.m0 = 1 << 30, pool.shift = 30, pool.clamp_lo = -128, pool.clamp_hi = 127;
  p.tiu = {ops::Sync{3}.instr(), conv.instr(), pool.instr(), ops::End{}.instr()};

  DataBlock weights{static_cast<uint64_t>(kDdrWeights), std::vector<uint8_t>(16 * 144)};
  for (size_t i = 0; i < weights.bytes.size(); ++i) weights.bytes[i] = static_cast<uint8_t>(i * 37 + 11);
  DataBlock bias{static_cast<uint64_t>(kDdrBias), std::vector<uint8_t>(16 * 4, 0x01)};
  p.data = {weights, bias};
  p.inputs = {TensorDesc{"image", {1, 16, 8, 8}, DType::Int8, 0.0078125f, -3, static_cast<uint64_t>(kDdrIn)}};
  p.outputs = {
      TensorDesc{"pool1.out", {1, 16, 4, 4}, DType::Int8, 0.0421f, 5, static_cast<uint64_t>(kDdrOut)}};
  p.debug = {{Engine::Tiu, 1, "conv1"}, {Engine::Tiu, 2, "pool1"}, {Engine::Gdma, 1, "conv1.weight"}};
  return p;
}

void require_error(const std::function<void()>& fn, const std::string& expected) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg == expected);
    return;
  }
  FAIL("no tpusim::Error thrown; expected: " << expected);
}

}  // namespace tpusim_test
