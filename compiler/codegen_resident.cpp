// Back end, the resident schedule (--opt 1 and 2): runs of ops whose whole working set fits LMEM at once
// keep their activations there (a consumer reads its producer's output buffer, no DDR round trip)
// and load later ops' constants while earlier ops compute. Buffers are allocated by lifetime,
// first fit; the Emitter's footprint check adds every sync, so correctness does not depend on the
// allocation, only the overlap does. Ops that need tiling, and data-movement ops, run as in --opt
// 0 and end a run (docs/compiler.md, "Schedules").
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "base/error.h"
#include "compiler/codegen.h"
#include "compiler/codegen_whole.h"
#include "compiler/cycle_model.h"

namespace tpusim::compiler::be {

namespace {

bool same_dims(const Dims& x, const Dims& y) { return x.n == y.n && x.c == y.c && x.h == y.h && x.w == y.w; }

// First-fit allocation of per-lane LMEM byte ranges, each freed after its last user op.
class LmemAlloc {
 public:
  explicit LmemAlloc(uint64_t size) : size_(size) {}
  std::optional<uint64_t> alloc(uint64_t bytes, size_t last_use) {
    if (bytes == 0) return 0;
    uint64_t at = 0;
    for (auto it = blocks_.begin(); it != blocks_.end(); ++it) {
      if (it->first >= at + bytes) break;
      at = std::max(at, it->second.hi);
    }
    if (at + bytes > size_) return std::nullopt;
    blocks_[at] = {at + bytes, last_use};
    return at;
  }
  void free_before(size_t op) {
    std::erase_if(blocks_, [&](const auto& b) { return b.second.last_use < op; });
  }
  uint64_t free_bytes() const {
    uint64_t used = 0;
    for (const auto& [lo, b] : blocks_) used += b.hi - lo;
    return size_ - used;
  }

 private:
  struct Block {
    uint64_t hi;
    size_t last_use;
  };
  uint64_t size_;
  std::map<uint64_t, Block> blocks_;  // lo -> block
};

struct Walk {
  Walk(Emitter* em, const IntGraph& gr, const DdrMap& dm, const Arch& ar, std::vector<Whole>& wh,
       const std::vector<GroupPlan>& gp, size_t ahead, std::vector<OpEmitted>* o)
      : e(em), g(gr), ddr(dm), a(ar), whole(wh), groups(gp), max_ahead(ahead), out(o) {
    link();
  }
  Emitter* e;  // null: a dry run that only allocates
  const IntGraph& g;
  const DdrMap& ddr;
  const Arch& a;
  std::vector<Whole>& whole;             // ok = false for ops that run tiled or in a group
  const std::vector<GroupPlan>& groups;  // by first op, in order
  size_t max_ahead;                      // how many later ops' constants may be prefetched
  std::vector<OpEmitted>* out;

  // For op j's input slot k: the producing op whose LMEM output it reads, or -1 (from DDR).
  std::vector<std::array<int64_t, 2>> alias;
  std::vector<bool> stored;  // op output also written to DDR

  void link() {
    const size_t n = g.ops.size();
    alias.assign(n, {-1, -1});
    stored.assign(n, true);
    std::map<std::string, size_t> producer;  // output -> op, within the current run of resident ops
    for (size_t j = 0; j < n; ++j) {
      const IOp& op = g.ops[j];
      if (!whole[j].ok) {
        producer.clear();
        continue;
      }
      for (int k = 0; k < whole[j].n_inputs; ++k) {
        const std::string& in = op.inputs[static_cast<size_t>(k)];
        const auto p = producer.find(g.storage(in));
        if (p == producer.end() || (!whole[j].matmul && !whole[j].norm && whole[j].ws.broadcast[k])) continue;
        const Whole& w = whole[p->second];
        if (same_dims(w.out_dims, whole[j].in_dims[k]) && w.out_dt == whole[j].in_dt[k])
          alias[j][static_cast<size_t>(k)] = static_cast<int64_t>(p->second);
      }
      producer[op.output] = j;
    }
    // An output is stored unless every consumer reads it from LMEM and it is not a graph output.
    std::map<std::string, bool> needs_ddr;
    for (const std::string& o : g.outputs) needs_ddr[g.storage(o)] = true;
    for (size_t j = 0; j < n; ++j)
      for (size_t k = 0; k < g.ops[j].inputs.size(); ++k)
        if (k >= 2 || alias[j][k] < 0) needs_ddr[g.storage(g.ops[j].inputs[k])] = true;
    for (size_t i = 0; i < n; ++i) stored[i] = !whole[i].ok || needs_ddr.count(g.ops[i].output) > 0;
  }

  // Returns the op that did not fit, or -1 when every op was placed.
  int64_t run() {
    const size_t n = g.ops.size();
    LmemAlloc lm(a.lane_bytes);
    std::vector<std::optional<uint64_t>> out_at(n), const_at(n);
    size_t next_prefetch = 0;
    auto group = groups.begin();
    for (size_t i = 0; i < n; ++i) {
      const IOp& op = g.ops[i];
      if (group != groups.end() && group->first == i) {  // a layer group has the whole LMEM
        lm.free_before(n);
        if (e) emit_group(*e, g, ddr, a, *group, *out);
        i = group->last, next_prefetch = i + 1;
        ++group;
        continue;
      }
      Whole& h = whole[i];
      OpEmitted rec;
      if (e) e->node = op.name;
      if (!h.ok) {
        lm.free_before(n);  // a tiled op has the whole LMEM (its syncs order it after the run)
        next_prefetch = i + 1;
        if (e) rec.info = emit_op(*e, g, op, ddr, ddr.consts[i], a);
        // A folded rearrange's output never reaches DDR; an act_matmul folded into the rearrange
        // after it writes that one's output instead of its own.
        if (const ViewFolds* f = e ? e->options().folds : nullptr)
          rec.stored =
              !(op.as<IRearrange>() && f->read_through(op)) && !(op.as<IActMatmul>() && f->store(op));
      } else {
        lm.free_before(i);
        Bufs b;
        uint64_t last_use = i;
        for (size_t j = i + 1; j < n && whole[j].ok; ++j)
          for (int k = 0; k < 2; ++k)
            if (alias[j][static_cast<size_t>(k)] == static_cast<int64_t>(i)) last_use = j;
        for (int k = 0; k < h.n_inputs; ++k) {
          const int64_t p = alias[i][static_cast<size_t>(k)];
          std::optional<uint64_t> at = p >= 0 ? out_at[static_cast<size_t>(p)] : lm.alloc(h.in_bytes[k], i);
          if (!at) return static_cast<int64_t>(i);
          b.in[k] = *at, b.load_in[k] = p < 0;
        }
        const bool prefetched = const_at[i].has_value();
        if (!prefetched) const_at[i] = lm.alloc(h.consts(), i);
        const std::optional<uint64_t> o = lm.alloc(h.out, last_use);
        if (!const_at[i] || !o) return static_cast<int64_t>(i);
        out_at[i] = o;
        h.c.place(b, *const_at[i]);
        b.out = *o;
        b.load_consts = b.load_lut = !prefetched, b.store = stored[i];
        rec.info = {1, false, h.in_bytes[0] + h.in_bytes[1] + h.consts() + h.out};
        rec.resident = true, rec.kept_input = b.load_in[0] == false, rec.stored = stored[i];
        rec.out_lmem = *o, rec.out_bytes = h.out, rec.out_last_use = last_use;
        const TileCode tc = whole_code(h, g, op, b, ddr, ddr.consts[i], a);
        if (e) {
          for (const Instr& in : tc.loads) e->gdma(in);
          if (!tc.const_loads.empty()) e->gdma_consts(tc.const_loads, tc.consts_lo, tc.consts_hi);
        }
        // Constants of the next ops, while this one computes: as far ahead as LMEM allows and
        // leaves room for the activations of the ops in between.
        next_prefetch = std::max(next_prefetch, i + 1);
        uint64_t reserve = 0;
        for (size_t j = next_prefetch; j < n && j <= i + max_ahead && whole[j].ok; ++j) {
          reserve = std::max(reserve, whole[j].in_bytes[0] + whole[j].in_bytes[1] + whole[j].out);
          if (lm.free_bytes() < whole[j].consts() + reserve) break;
          const std::optional<uint64_t> at = lm.alloc(whole[j].consts(), j);
          if (!at) break;
          const_at[j] = at, next_prefetch = j + 1;
          if (e) prefetch(j, *at);
        }
        if (e) {
          for (const Instr& in : tc.compute) e->tiu(in);
          for (const Instr& in : tc.stores) e->gdma(in);
        }
      }
      if (e) out->push_back(rec);
    }
    return -1;
  }

  // Emits op j's constant loads into LMEM at `at`, under op j's debug-map node (so they count as
  // its traffic and time).
  void prefetch(size_t j, uint64_t at) {
    const Whole& h = whole[j];
    Bufs b;
    b.load_in[0] = b.load_in[1] = false, b.store = false;
    h.c.place(b, at);
    const TileCode tc = whole_code(h, g, g.ops[j], b, ddr, ddr.consts[j], a);
    const std::string node = e->node;
    e->node = g.ops[j].name;
    const uint64_t before = e->node_bytes[e->node];
    const uint32_t first = e->gdma_size();
    if (!tc.const_loads.empty()) e->gdma_consts(tc.const_loads, tc.consts_lo, tc.consts_hi);
    prefetched_bytes[j] = e->node_bytes[e->node] - before;
    prefetch_range[j] = {first, e->gdma_size()};
    e->node = node;
  }
  std::map<size_t, uint64_t> prefetched_bytes;
  std::map<size_t, std::pair<uint32_t, uint32_t>> prefetch_range;
};

// The resident schedule with these layer groups. Dry runs first: a prefetch that leaves an op no
// room is retried with a shorter look-ahead; an op that does not fit even then runs tiled.
std::vector<OpEmitted> emit_resident(Emitter& e, const IntGraph& g, const DdrMap& ddr, const Arch& a,
                                     std::vector<Whole> whole, const std::vector<GroupPlan>& groups) {
  for (const GroupPlan& p : groups)
    for (size_t k = p.first; k <= p.last; ++k) whole[k].ok = false;
  size_t ahead = 8;
  for (;;) {
    const int64_t bad = Walk(nullptr, g, ddr, a, whole, groups, ahead, nullptr).run();
    if (bad < 0) break;
    if (ahead > 0)
      ahead /= 2;
    else
      whole[static_cast<size_t>(bad)].ok = false;
  }
  std::vector<OpEmitted> out;
  Walk w(&e, g, ddr, a, whole, groups, ahead, &out);
  w.run();
  for (auto& [j, bytes] : w.prefetched_bytes) out[j].prefetched_bytes = bytes;
  for (auto& [j, r] : w.prefetch_range) out[j].prefetch_begin = r.first, out[j].prefetch_end = r.second;
  return out;
}

}  // namespace

std::vector<OpEmitted> emit_program(Emitter& e, const IntGraph& g, const DdrMap& ddr, const Arch& a,
                                    int opt) {
  std::vector<OpEmitted> out;
  if (opt <= 0) {
    for (size_t i = 0; i < g.ops.size(); ++i) {
      OpEmitted rec;
      e.node = g.ops[i].name;
      rec.info = emit_op(e, g, g.ops[i], ddr, ddr.consts[i], a);
      out.push_back(rec);
    }
    return out;
  }
  std::vector<Whole> whole;
  for (const IOp& op : g.ops) whole.push_back(whole_of(g, op, a));
  // Layernorm and softmax run tiled unless the search below makes them resident.
  std::vector<Whole> chosen = whole;
  for (Whole& h : chosen) h.ok = h.ok && !h.norm;
  std::vector<bool> fits(chosen.size());
  for (size_t i = 0; i < chosen.size(); ++i) fits[i] = chosen[i].ok;
  const std::vector<bool> fits_ungrouped = fits;
  std::vector<GroupPlan> groups = form_groups(g, a, fits);
  if (opt >= 2) {
    // A schedule that cannot be emitted costs the most (the search never makes a compile fail).
    auto cost_of = [&](const std::vector<GroupPlan>& gs, const std::vector<Whole>& w) {
      Program scratch;
      Emitter se(scratch, a, e.options());  // as the final program: merged loads, folded views
      try {
        emit_resident(se, g, ddr, a, w, gs);
      } catch (const Error&) {
        return ScheduleCost{UINT64_MAX, UINT64_MAX};
      }
      ScheduleCost c{replay_cycles(scratch.tiu, scratch.gdma, a).total, 0};
      for (const auto& [node, bytes] : se.node_bytes) c.ddr_bytes += bytes;
      return c;
    };
    groups = search_groups(g, ddr, a, e.options(), fits_ungrouped, std::move(groups),
                           [&](const std::vector<GroupPlan>& gs) { return cost_of(gs, chosen); });
    std::vector<bool> can(chosen.size()), on(chosen.size());
    for (size_t i = 0; i < chosen.size(); ++i) can[i] = whole[i].norm && whole[i].ok;
    auto with = [&](const std::vector<bool>& norms) {
      std::vector<Whole> w = chosen;
      for (size_t i = 0; i < w.size(); ++i) w[i].ok = w[i].ok || norms[i];
      return w;
    };
    if (std::find(can.begin(), can.end(), true) != can.end()) {
      on = choose_resident(can, on, cost_of(groups, chosen),
                           [&](const std::vector<bool>& norms) { return cost_of(groups, with(norms)); });
      chosen = with(on);
    }
  }
  return emit_resident(e, g, ddr, a, std::move(chosen), groups);
}

}  // namespace tpusim::compiler::be
