// Merged constant loads (compiler/const_image.h, --opt 2): an image load leaves LMEM exactly as the
// loads it replaces do, run by the ISA's own DMA kernel (int8 and int4 weights, whole ops and
// channel tiles, every preset), writes nothing outside the range the caller owns, and is planned
// only where one load is cheaper; data blocks no load reads are dropped.
#include "compiler/const_image.h"

#include <catch2/catch.hpp>
#include <random>

#include "compiler/codegen.h"
#include "isa/semantics.h"
#include "sim/timing.h"

using namespace tpusim;
using namespace tpusim::compiler::be;

namespace {

constexpr uint64_t kDdr = 1 << 20;  // the DDR these tests give the architecture

// One op's constants (weights [oc, K], int32 bias, rq pairs) in DDR and the loads of output
// channels [o0, o0 + oct) into one tile's LMEM range from `at`, as window_code emits them.
struct Consts {
  std::vector<DataBlock> data;
  std::vector<Instr> loads;
  Bufs b;
};

Consts make(std::mt19937& rng, const Arch& a, int64_t oc, int64_t K, DType w_dt, int64_t o0, int64_t oct,
            uint64_t at) {
  Consts c;
  std::uniform_int_distribution<int> byte(0, 255);
  uint64_t ddr = 64;
  auto block = [&](uint64_t bytes) {
    DataBlock d{ddr, std::vector<uint8_t>(bytes)};
    for (uint8_t& v : d.bytes) v = static_cast<uint8_t>(byte(rng));
    c.data.push_back(d);
    ddr = align_up(ddr + bytes, 64);
    return d.ddr_addr;
  };
  const uint64_t w = block(packed_bytes(w_dt, static_cast<uint64_t>(oc * K)));
  const uint64_t bias = block(4 * static_cast<uint64_t>(oc)), rq = block(8 * static_cast<uint64_t>(oc));
  ConstBytes cb;
  cb.w = local_bytes(a, w_dt, 1, oct, 1, K);
  cb.b = local_bytes(a, DType::Int32, 1, oct, 1, 1);
  cb.rq = local_bytes(a, DType::Int32, 1, oct, 1, 2);
  cb.place(c.b, at);
  c.loads = {dma_load(a, w_dt, {1, oct, 1, K}, w, o0 * K, {1, oc, 1, K}, c.b.w),
             dma_load(a, DType::Int32, {1, oct, 1, 1}, bias, o0, {1, oc, 1, 1}, c.b.b),
             dma_load(a, DType::Int32, {1, oct, 1, 2}, rq, o0 * 2, {1, oc, 1, 2}, c.b.rq)};
  return c;
}

// LMEM after running `loads` with the ISA's reference DMA kernel from `lmem`, DDR holding `data`.
std::vector<uint8_t> run(const Arch& a, const std::vector<DataBlock>& data, const std::vector<Instr>& loads,
                         std::vector<uint8_t> lmem) {
  std::vector<uint8_t> ddr(kDdr, 0);
  for (const DataBlock& d : data) std::copy(d.bytes.begin(), d.bytes.end(), ddr.begin() + d.ddr_addr);
  const MemView m{sim::geometry(a), ddr, lmem};
  ExecCounters n;
  for (const Instr& in : loads) execute(in, m, n, Kernels::Reference);
  return lmem;
}

Arch small_ddr(const Arch& preset) {
  Arch a = preset;
  a.ddr_bytes = kDdr;
  return a;
}

}  // namespace

TEST_CASE("const image: one load leaves LMEM as the loads it replaces", "[const_image]") {
  std::mt19937 rng(7);
  int merged = 0;
  for (const Arch& preset : arch_presets()) {
    const Arch a = small_ddr(preset);
    for (int trial = 0; trial < 40; ++trial) {
      const int64_t oc = std::uniform_int_distribution<int64_t>(1, 3 * a.lanes + 5)(rng);
      const int64_t K = std::uniform_int_distribution<int64_t>(1, 40)(rng) * 2;  // whole int4 bytes
      const DType w_dt = trial % 3 == 0 ? DType::Int4 : DType::Int8;
      const int64_t oct = trial % 2 ? oc : std::uniform_int_distribution<int64_t>(1, oc)(rng);
      const int64_t o0 = (oc - oct) / 2;
      const uint64_t at = 4 * std::uniform_int_distribution<uint64_t>(0, 64)(rng);
      INFO(a.name << " oc " << oc << " K " << K << " o0 " << o0 << " oct " << oct << " at " << at);
      const Consts c = make(rng, a, oc, K, w_dt, o0, oct, at);
      std::vector<Instr> rest = c.loads;
      const std::optional<ConstImage> im = plan_const_image(rest, c.b.consts_lo, c.b.consts_hi, a, 0x80000);
      if (!im) {
        // Refused only when one load would not be cheaper.
        uint64_t parts = 0;
        for (const Instr& in : c.loads) parts += sim::cycles(in, a);
        ConstImage all;
        all.lanes = static_cast<uint32_t>(std::min<int64_t>(oct, a.lanes));
        all.bytes_per_lane = c.b.consts_hi - c.b.consts_lo;
        CHECK(sim::cycles(all.load(), a) >= parts);
        CHECK(rest.size() == c.loads.size());
        continue;
      }
      ++merged;
      CHECK(rest.empty());
      CHECK(im->parts.size() == 3);
      CHECK(im->lmem >= c.b.consts_lo);
      CHECK(im->lmem + im->bytes_per_lane <= c.b.consts_hi);
      std::vector<DataBlock> data = c.data;
      data.push_back(const_image_data(*im, c.data, a));
      CHECK(data.back().bytes.size() == im->bytes());
      // From zeroed LMEM the image (zeros where no part writes) gives the same bytes everywhere.
      const std::vector<uint8_t> zero(a.lmem_bytes(), 0);
      CHECK(run(a, data, {im->load()}, zero) == run(a, c.data, c.loads, zero));
      // From random LMEM nothing outside the caller's range changes (every 4th case: LMEM is large).
      if (trial % 4) continue;
      std::vector<uint8_t> noise(a.lmem_bytes());
      for (uint8_t& v : noise) v = static_cast<uint8_t>(rng());
      const std::vector<uint8_t> after = run(a, data, {im->load()}, noise);
      bool outside_kept = true;
      for (uint64_t lane = 0; lane < a.lanes; ++lane)
        for (uint64_t off = 0; off < a.lane_bytes; ++off) {
          const uint64_t i = lane * a.lane_bytes + off;
          if ((off < c.b.consts_lo || off >= c.b.consts_hi) && after[i] != noise[i]) outside_kept = false;
        }
      CHECK(outside_kept);
    }
  }
  CHECK(merged > 60);
}

TEST_CASE("const image: what is not merged", "[const_image]") {
  std::mt19937 rng(11);
  const Arch a = small_ddr(arch_preset("default"));
  const Consts c = make(rng, a, 40, 50, DType::Int8, 0, 40, 256);
  const uint64_t lo = c.b.consts_lo, hi = c.b.consts_hi;
  SECTION("a load outside the range stays apart; the others merge") {
    std::vector<Instr> loads = c.loads;
    const std::optional<ConstImage> im = plan_const_image(loads, c.b.b, hi, a, 0x80000);
    REQUIRE(im);
    CHECK(im->parts.size() == 2);
    REQUIRE(loads.size() == 1);
    CHECK(loads[0] == c.loads[0]);
  }
  SECTION("one load alone") {
    std::vector<Instr> loads = {c.loads[0]};
    CHECK_FALSE(plan_const_image(loads, lo, hi, a, 0x80000));
    CHECK(loads.size() == 1);
  }
  SECTION("no image that would end past the DDR") {
    std::vector<Instr> loads = c.loads;
    CHECK_FALSE(plan_const_image(loads, lo, hi, a, kDdr - 64));
    CHECK(loads.size() == 3);
  }
  SECTION("bank-aligned tables: the padding would cost more than the loads it saves") {
    const uint64_t bank = a.lane_bytes / a.banks_per_lane;
    std::vector<Instr> loads = c.loads;
    ops::DmaLoad b = ops::DmaLoad::from(loads[1]), r = ops::DmaLoad::from(loads[2]);
    b.dst = static_cast<int64_t>(lo + bank), r.dst = static_cast<int64_t>(lo + 2 * bank);
    loads[1] = b.instr(), loads[2] = r.instr();
    CHECK_FALSE(plan_const_image(loads, lo, lo + 3 * bank, a, 0x80000));
    CHECK(loads.size() == 3);
  }
}

TEST_CASE("const image: data no load reads is dropped", "[const_image]") {
  std::mt19937 rng(3);
  const Arch a = small_ddr(arch_preset("default"));
  const Consts c = make(rng, a, 20, 9, DType::Int8, 0, 20, 0);
  Program p;
  p.data = c.data;
  p.gdma = {c.loads[0], c.loads[2]};  // weights and rq table read, bias not
  drop_unread_data(p, a);
  REQUIRE(p.data.size() == 2);
  CHECK(p.data[0].ddr_addr == c.data[0].ddr_addr);
  CHECK(p.data[1].ddr_addr == c.data[2].ddr_addr);
  // A block partly read keeps the piece read: weights of channels [5, 10) of 20, 9 bytes each.
  p.gdma = {dma_load(a, DType::Int8, {1, 5, 1, 9}, c.data[0].ddr_addr, 5 * 9, {1, 20, 1, 9}, 0)};
  drop_unread_data(p, a);
  REQUIRE(p.data.size() == 1);
  CHECK(p.data[0].ddr_addr == c.data[0].ddr_addr + 45);
  CHECK(p.data[0].bytes == std::vector<uint8_t>(c.data[0].bytes.begin() + 45, c.data[0].bytes.begin() + 90));
  p.gdma.clear();
  drop_unread_data(p, a);
  CHECK(p.data.empty());
}
