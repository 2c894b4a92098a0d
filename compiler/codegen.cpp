// Back end code generation: streams, syncs, tile schedule, DMA helpers.
#include "compiler/codegen.h"

#include <algorithm>

#include "isa/semantics.h"

namespace tpusim::compiler::be {

Emitter::Emitter(Program& p, const Arch& a, EmitOptions o)
    : p_(p),
      a_(a),
      opts_(o),
      geo_{a.lanes, a.lane_bytes, a.ddr_bytes},
      image_at_(align_up(o.image_base, 64)) {}

uint32_t Emitter::gdma_consts(std::vector<Instr> loads, uint64_t lo, uint64_t hi) {
  std::optional<ConstImage> im;
  if (image_at_ != 0 && lo < hi) im = plan_const_image(loads, lo, hi, a_, image_at_);
  uint32_t last = 0;
  for (const Instr& in : loads) last = gdma(in);
  if (im) {
    // A tile reloading the same constants (another row band) loads the same image.
    const auto same = std::find_if(images.begin(), images.end(),
                                   [&](const ConstImage& x) { return x.same_as < 0 && same_bytes(x, *im); });
    if (same != images.end()) {
      im->same_as = same - images.begin(), im->ddr_addr = same->ddr_addr;
    } else {
      image_at_ = align_up(image_at_ + im->bytes(), 64);
    }
    last = im->gdma_index = gdma(im->load());
    images.push_back(std::move(*im));
  }
  return last;
}

uint32_t Emitter::push_ordered(Engine e, const Instr& in) {
  std::vector<Footprint>& other = e == Engine::Tiu ? gdma_lmem_ : tiu_lmem_;
  std::vector<Footprint>& mine = e == Engine::Tiu ? tiu_lmem_ : gdma_lmem_;
  const std::vector<Access> acc = accesses(in, geo_);
  int64_t need = -1;
  for (const Access& x : acc)
    if (x.space == Space::Lmem && x.lo < x.hi)
      for (const Footprint& f : other)
        if ((f.write || x.write) && f.lo < x.hi && x.lo < f.hi && f.lane_lo < x.lane_hi &&
            x.lane_lo < f.lane_hi)
          need = std::max<int64_t>(need, f.index);
  if (need >= 0) {
    if (e == Engine::Tiu)
      tiu_waits_for_gdma(static_cast<uint32_t>(need));
    else
      gdma_waits_for_tiu(static_cast<uint32_t>(need));
  }
  // What this stream has waited for can no longer conflict with it.
  const uint64_t waited = e == Engine::Tiu ? tiu_waited_ : gdma_waited_;
  std::erase_if(other, [&](const Footprint& f) { return f.index < waited; });
  const uint32_t idx = push(e, in);
  for (const Access& x : acc)
    if (x.space == Space::Lmem && x.lo < x.hi)
      mine.push_back({idx, x.lane_lo, x.lane_hi, x.lo, x.hi, x.write});
  return idx;
}

uint32_t Emitter::push(Engine e, const Instr& in) {
  auto& s = p_.stream(e);
  const auto idx = static_cast<uint32_t>(s.size());
  s.push_back(in);
  p_.debug.push_back({e, idx, node});
  return idx;
}

uint32_t Emitter::gdma(const Instr& in) {
  if (in.op == Opcode::DmaLoad || in.op == Opcode::DmaStore) {
    const ops::DmaLoad d = ops::DmaLoad::from(in);  // same field layout for load and store
    const uint64_t bytes =
        packed_bytes(static_cast<DType>(d.dtype), static_cast<uint64_t>(d.n * d.c * d.h * d.w));
    node_bytes[node] += bytes;
  }
  return push_ordered(Engine::Gdma, in);
}

uint32_t Emitter::tiu(const Instr& in) { return push_ordered(Engine::Tiu, in); }

void Emitter::tiu_waits_for_gdma(uint32_t i) {
  if (uint64_t{i} + 1 <= tiu_waited_) return;
  ops::Sync s;
  s.count = i + 1;
  push(Engine::Tiu, s.instr());
  tiu_waited_ = uint64_t{i} + 1;
}

void Emitter::gdma_waits_for_tiu(uint32_t i) {
  if (uint64_t{i} + 1 <= gdma_waited_) return;
  ops::Sync s;
  s.count = i + 1;
  push(Engine::Gdma, s.instr());
  gdma_waited_ = uint64_t{i} + 1;
}

void Emitter::finish() {
  node = "end";
  push(Engine::Gdma, ops::End{}.instr());
  push(Engine::Tiu, ops::End{}.instr());
}

void schedule(Emitter& e, int64_t tiles, int sets, uint64_t set_bytes,
              const std::function<TileCode(int64_t k, uint64_t base)>& make) {
  std::vector<TileCode> code;
  for (int64_t k = 0; k < tiles; ++k) code.push_back(make(k, static_cast<uint64_t>(k % sets) * set_bytes));
  std::vector<uint32_t> last_load(static_cast<size_t>(tiles), 0);
  auto load = [&](int64_t k) {
    if (k >= tiles) return;
    for (const Instr& in : code[static_cast<size_t>(k)].loads) last_load[static_cast<size_t>(k)] = e.gdma(in);
    const TileCode& t = code[static_cast<size_t>(k)];
    if (!t.const_loads.empty())
      last_load[static_cast<size_t>(k)] = e.gdma_consts(t.const_loads, t.consts_lo, t.consts_hi);
  };
  // GDMA: L0 .. L(sets-1), then per tile: wait C(k), S(k), L(k+sets). TIU: wait L(k), C(k).
  // L(k+sets) reuses tile k's buffers only after C(k) (waited) and S(k) (earlier in the stream);
  // C(k+sets) overwrites tile k's output only after L(k+sets), hence after S(k).
  for (int64_t k = 0; k < sets; ++k) load(k);
  for (int64_t k = 0; k < tiles; ++k) {
    TileCode& t = code[static_cast<size_t>(k)];
    if (!t.compute.empty()) {
      if (!t.loads.empty() || !t.const_loads.empty()) e.tiu_waits_for_gdma(last_load[static_cast<size_t>(k)]);
      uint32_t last = 0;
      for (const Instr& in : t.compute) last = e.tiu(in);
      e.gdma_waits_for_tiu(last);
    }
    for (const Instr& in : t.stores) e.gdma(in);
    load(k + sets);
  }
}

Dims dims4(const Shape& s) {
  Dims d;
  if (s.size() <= 1) {
    d.w = s.empty() ? 1 : s[0];
    return d;
  }
  d.n = s[0], d.c = s[1];
  if (s.size() >= 3) d.h = s[2];
  for (size_t i = 3; i < s.size(); ++i) d.w *= s[i];
  return d;
}

namespace {

ops::DmaLoad dma(const Arch& a, DType dt, Dims d, uint64_t ddr_base, int64_t ddr_elem, Dims full,
                 uint64_t lmem, bool load) {
  ops::DmaLoad m;
  m.dtype = static_cast<int64_t>(dt);
  m.n = d.n, m.c = d.c, m.h = d.h, m.w = d.w;
  const int64_t lsn = ceil_div(d.c, a.lanes) * d.h * d.w, lsc = d.h * d.w, lsh = d.w;
  const int64_t gsn = full.c * full.h * full.w, gsc = full.h * full.w, gsh = full.w;
  const auto addr = static_cast<int64_t>(ddr_base + static_cast<uint64_t>(ddr_elem) * bits(dt) / 8);
  if (load) {
    m.src = addr, m.src_sn = gsn, m.src_sc = gsc, m.src_sh = gsh, m.src_sw = 1;
    m.dst = static_cast<int64_t>(lmem), m.dst_sn = lsn, m.dst_sc = lsc, m.dst_sh = lsh, m.dst_sw = 1;
  } else {
    m.src = static_cast<int64_t>(lmem), m.src_sn = lsn, m.src_sc = lsc, m.src_sh = lsh, m.src_sw = 1;
    m.dst = addr, m.dst_sn = gsn, m.dst_sc = gsc, m.dst_sh = gsh, m.dst_sw = 1;
  }
  return m;
}

}  // namespace

Instr dma_load(const Arch& a, DType dt, Dims d, uint64_t ddr_base, int64_t ddr_elem, Dims full,
               uint64_t lmem) {
  return dma(a, dt, d, ddr_base, ddr_elem, full, lmem, true).instr();
}

Instr dma_load_broadcast(const Arch& a, DType dt, Dims d, uint64_t ddr_base, int64_t n0, int64_t c0,
                         int64_t full_c, uint64_t lmem) {
  ops::DmaLoad m;
  m.dtype = static_cast<int64_t>(dt);
  m.n = d.n, m.c = d.c, m.h = d.h, m.w = d.w;
  m.src = static_cast<int64_t>(ddr_base + static_cast<uint64_t>(n0 * full_c + c0) * bits(dt) / 8);
  m.src_sn = full_c, m.src_sc = 1, m.src_sh = 0, m.src_sw = 0;
  m.dst = static_cast<int64_t>(lmem), m.dst_sn = ceil_div(d.c, a.lanes) * d.h * d.w, m.dst_sc = d.h * d.w;
  m.dst_sh = d.w, m.dst_sw = 1;
  return m.instr();
}

Instr dma_load_table(DType dt, int64_t entries, int64_t lanes_used, uint64_t ddr_addr, uint64_t lmem) {
  ops::DmaLoad m;
  m.dtype = static_cast<int64_t>(dt);
  m.n = 1, m.c = lanes_used, m.h = 1, m.w = entries;
  m.src = static_cast<int64_t>(ddr_addr), m.src_sn = entries, m.src_sc = 0, m.src_sh = entries, m.src_sw = 1;
  m.dst = static_cast<int64_t>(lmem), m.dst_sn = entries, m.dst_sc = entries, m.dst_sh = entries,
  m.dst_sw = 1;
  return m.instr();
}

Instr dma_store(const Arch& a, DType dt, Dims d, uint64_t lmem, uint64_t ddr_base, int64_t ddr_elem,
                Dims full) {
  const ops::DmaLoad m = dma(a, dt, d, ddr_base, ddr_elem, full, lmem, false);
  ops::DmaStore s;
  s.dtype = m.dtype, s.n = m.n, s.c = m.c, s.h = m.h, s.w = m.w;
  s.src = m.src, s.src_sn = m.src_sn, s.src_sc = m.src_sc, s.src_sh = m.src_sh, s.src_sw = m.src_sw;
  s.dst = m.dst, s.dst_sn = m.dst_sn, s.dst_sc = m.dst_sc, s.dst_sh = m.dst_sh, s.dst_sw = m.dst_sw;
  return s.instr();
}

namespace {

ops::DmaLoad dma_fields(DType dt, Dims d, int64_t src, DmaStrides ss, int64_t dst, DmaStrides ds) {
  ops::DmaLoad m;
  m.dtype = static_cast<int64_t>(dt);
  m.n = d.n, m.c = d.c, m.h = d.h, m.w = d.w;
  m.src = src, m.src_sn = ss.n, m.src_sc = ss.c, m.src_sh = ss.h, m.src_sw = ss.w;
  m.dst = dst, m.dst_sn = ds.n, m.dst_sc = ds.c, m.dst_sh = ds.h, m.dst_sw = ds.w;
  return m;
}

// dma.load, dma.store and dma.copy share one field list (TPUSIM_FIELDS_DMA): only the opcode differs.
Instr dma_with(Opcode op, DType dt, Dims d, int64_t src, DmaStrides ss, int64_t dst, DmaStrides ds) {
  Instr in = dma_fields(dt, d, src, ss, dst, ds).instr();
  in.op = op;
  return in;
}

}  // namespace

Instr strided_load(DType dt, Dims d, int64_t src, DmaStrides ss, int64_t dst, DmaStrides ds) {
  return dma_with(Opcode::DmaLoad, dt, d, src, ss, dst, ds);
}

Instr strided_store(DType dt, Dims d, int64_t src, DmaStrides ss, int64_t dst, DmaStrides ds) {
  return dma_with(Opcode::DmaStore, dt, d, src, ss, dst, ds);
}

Instr strided_copy(DType dt, Dims d, int64_t src, DmaStrides ss, int64_t dst, DmaStrides ds) {
  return dma_with(Opcode::DmaCopy, dt, d, src, ss, dst, ds);
}

}  // namespace tpusim::compiler::be
