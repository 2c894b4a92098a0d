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

const InstrFacts& InstrFactsCache::get(const Instr& in) {
  Entry& e = facts_[&in];
  if (e.valid && e.instr == in) return e.facts;
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
  e.valid = true, e.instr = in, e.facts = std::move(f);
  return e.facts;
}

}  // namespace tpusim::sim
