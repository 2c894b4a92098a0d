#include "sim/instr_facts.h"

namespace tpusim::sim {

namespace {
constexpr size_t kMaxEntries = 1 << 14;  // distinct instructions kept (a large program's streams)
}

void InstrFactsCache::begin_run(const Arch& a) {
  const uint64_t fp = a.fingerprint();
  if (fp != fingerprint_ || facts_.size() > kMaxEntries) facts_.clear();
  arch_ = &a, fingerprint_ = fp;
}

size_t InstrFactsCache::Hash::operator()(const Instr& in) const {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(in.op);
  for (const int64_t v : in.f) h = (h ^ static_cast<uint64_t>(v)) * 0x100000001B3ull + (h >> 29);
  return static_cast<size_t>(h);
}

const InstrFacts& InstrFactsCache::get(const Instr& in) {
  if (const auto it = facts_.find(in); it != facts_.end()) return it->second;
  const Arch& a = *arch_;
  InstrFacts f;
  f.lmem = lmem_accesses(in, geometry(a));
  for (const Access& x : accesses(in, geometry(a)))
    if (x.space == Space::Ddr) f.ddr_lo = x.lo;
  f.dma = dma_phases(in, a);
  if (spec(in.op).engine == Engine::Tiu) {
    f.tiu_cycles = tiu_duration(in, a);
    f.requant_stage = requant_stage_cycles(in, a);
  }
  return facts_.emplace(in, std::move(f)).first->second;
}

}  // namespace tpusim::sim
