// .tpu container: decode + validate, as read and again with the header's size and checksum
// resealed (so mutations reach the sections behind the checksum); a decoded program re-encodes to bytes that
// decode to the same program; a program for a preset whose work is small runs functionally (bounded: see
// kMaxWork).
#include "fuzz/fuzz_common.h"
#include "isa/program.h"
#include "sim/simulator.h"
#include "sim/timing.h"

using namespace tpusim;

namespace {

constexpr uint64_t kMaxDdr = 16 << 20;  // DDR footprint of a run, bytes
constexpr uint64_t kMaxWork = 4 << 20;  // MACs + uncontended cycles x lanes of a run

const Arch* preset_of(const Program& p) {
  for (const Arch& a : arch_presets())
    if (a.fingerprint() == p.arch.fingerprint) return &a;
  return nullptr;
}

void bounded_run(const Program& p) {
  const Arch* a = preset_of(p);
  if (!a || sim::ddr_footprint(p, *a) > kMaxDdr) return;
  uint64_t work = 0;
  for (const auto* stream : {&p.gdma, &p.tiu})
    for (const Instr& in : *stream) work += sim::macs(in) + sim::cycles(in, *a) * a->lanes;
  if (work > kMaxWork) return;
  sim::DeviceMemory mem = sim::prepare_memory(p, *a);
  sim::RunOptions opt;
  opt.functional = true;
  try {
    sim::run(p, *a, mem, opt);
  } catch (const Error&) {  // deadlock or an operand a kernel refuses: reported, multi-line allowed
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Program p;
  try {
    p = decode_program({data, size}, "fuzz.tpu");
  } catch (const Error& e) {
    fuzz::check_error(e);
    std::vector<uint8_t> sealed(data, data + size);
    try {
      reseal_tpu(sealed);
      p = decode_program(sealed, "resealed.tpu");
    } catch (const Error& e2) {
      fuzz::check_error(e2);
      return 0;
    }
  }
  const std::vector<uint8_t> bytes = encode_program(p);
  const Program q = decode_program(bytes, "re-encoded");
  fuzz::fuzz_check(encode_program(q) == bytes, "decode(encode(p)) differs from p");
  bounded_run(p);
  return 0;
}
