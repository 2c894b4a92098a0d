#include "sim/simulator.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "isa/numerics.h"
#include "sim/run_context.h"
#include "sim/sync_state.h"
#include "sim/timing.h"

namespace tpusim::sim {

uint64_t ddr_footprint(const Program& p, const Arch& a) {
  uint64_t hi = 0;
  for (const DataBlock& d : p.data) hi = std::max(hi, d.ddr_addr + d.bytes.size());
  for (const auto* list : {&p.inputs, &p.outputs})
    for (const TensorDesc& t : *list) hi = std::max(hi, t.ddr_addr + t.bytes());
  const Geometry geo = geometry(a);
  for (const Instr& in : p.gdma) {
    if (spec(in.op).engine != Engine::Gdma || !check(in, geo).empty()) continue;
    for (const Access& x : accesses(in, geo))
      if (x.space == Space::Ddr) hi = std::max(hi, x.hi);
  }
  return std::min(hi, a.ddr_bytes);
}

namespace {
// DDR bytes to store for the program on `a`, after the kMaxDeviceBytes check.
uint64_t checked_footprint(const Program& p, const Arch& a) {
  const uint64_t ddr = ddr_footprint(p, a), lmem = a.lmem_bytes();
  if (ddr > kMaxDeviceBytes || lmem > kMaxDeviceBytes - ddr)
    throw Error(
        fmt::format("the program needs {} bytes of DDR and {} bytes of LMEM on '{}', more than the "
                    "simulator's limit of {} bytes",
                    ddr, lmem, a.name, kMaxDeviceBytes));
  return ddr;
}
}  // namespace

DeviceMemory prepare_memory(const Program& p, const Arch& a) {
  DeviceMemory mem;
  mem.ddr.assign(checked_footprint(p, a), 0);
  mem.lmem.assign(a.lmem_bytes(), 0);
  for (size_t i = 0; i < p.data.size(); ++i) {
    const DataBlock& d = p.data[i];
    if (d.ddr_addr > mem.ddr.size() || d.bytes.size() > mem.ddr.size() - d.ddr_addr)
      throw Error(fmt::format("data block {} at {:#x} (+{} bytes) lies outside DDR of {} bytes", i,
                              d.ddr_addr, d.bytes.size(), a.ddr_bytes));
    std::copy(d.bytes.begin(), d.bytes.end(), mem.ddr.begin() + static_cast<ptrdiff_t>(d.ddr_addr));
  }
  return mem;
}

namespace {
void check_tensor_fits(const DeviceMemory& mem, const TensorDesc& t) {
  if (t.ddr_addr > mem.ddr.size() || t.bytes() > mem.ddr.size() - t.ddr_addr)
    throw Error(fmt::format("tensor '{}' at {:#x} (+{} bytes) lies outside the {} stored DDR bytes", t.name,
                            t.ddr_addr, t.bytes(), mem.ddr.size()));
}
}  // namespace

void write_tensor(DeviceMemory& mem, const TensorDesc& t, std::span<const int32_t> values) {
  if (values.size() != t.elements())
    throw Error(fmt::format("tensor '{}': expected {} values, got {}", t.name, t.elements(), values.size()));
  check_tensor_fits(mem, t);
  const DTypeTraits& tr = traits(t.dtype);
  uint8_t* base = mem.ddr.data() + t.ddr_addr;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < tr.qmin || values[i] > tr.qmax)
      throw Error(fmt::format("tensor '{}': value {} at element {} is outside {} [{}, {}]", t.name, values[i],
                              i, tr.name, tr.qmin, tr.qmax));
    store_elem(base, i, t.dtype, values[i]);
  }
}

std::vector<int32_t> read_tensor(const DeviceMemory& mem, const TensorDesc& t) {
  check_tensor_fits(mem, t);
  std::vector<int32_t> out(t.elements());
  for (size_t i = 0; i < out.size(); ++i) out[i] = load_elem(mem.ddr.data() + t.ddr_addr, i, t.dtype);
  return out;
}

namespace {

// Everything that can be known before time starts: architecture, engine membership, check().
void validate(const Program& p, const Arch& a) {
  if (p.arch.fingerprint != a.fingerprint())
    throw Error(
        fmt::format("program was compiled for architecture '{}' (fingerprint {:016x}) but the simulator runs "
                    "'{}' (fingerprint {:016x}); recompile it for '{}' or run it with --arch {}",
                    p.arch.name, p.arch.fingerprint, a.name, a.fingerprint(), a.name, p.arch.name));
  const Geometry geo = geometry(a);
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    const std::vector<Instr>& code = p.stream(e);
    bool has_end = false;
    for (uint32_t i = 0; i < code.size(); ++i) {
      const Engine owner = spec(code[i].op).engine;
      if (owner != e && owner != Engine::Sys)
        throw Error(fmt::format("{}: a {} instruction in the {} stream", describe(e, i, code[i]),
                                engine_name(owner), engine_name(e)));
      if (const std::string why = check(code[i], geo); !why.empty())
        throw Error(fmt::format("{}: {}", describe(e, i, code[i]), why));
      has_end = has_end || code[i].op == Opcode::End;
    }
    if (!has_end) throw Error(fmt::format("{} stream has no end instruction", engine_name(e)));
  }
}

}  // namespace

RunResult run(const Program& p, const Arch& a, DeviceMemory& mem, const RunOptions& opt) {
  validate(p, a);
  const uint64_t need = checked_footprint(p, a);
  if (mem.lmem.empty()) mem.lmem.assign(a.lmem_bytes(), 0);
  if (mem.lmem.size() != a.lmem_bytes())
    throw Error(fmt::format("LMEM image has {} bytes, architecture '{}' has {}", mem.lmem.size(), a.name,
                            a.lmem_bytes()));
  if (mem.ddr.size() < need) mem.ddr.resize(need, 0);
  RunContext ctx(p, a, opt);
  if (opt.functional)
    run_functional(ctx, mem);
  else
    run_timed(ctx, mem);
  return RunResult{std::move(ctx.stats), std::move(ctx.events)};
}

}  // namespace tpusim::sim
