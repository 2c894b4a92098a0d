// Back end, merged constant loads: planning an image, writing its bytes, dropping what no load
// reads any more (const_image.h).
#include "compiler/const_image.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "compiler/tiling.h"
#include "isa/numerics.h"
#include "isa/semantics.h"
#include "sim/timing.h"

namespace tpusim::compiler::be {

namespace {

// The LMEM range a dma.load writes (a bounding box over lanes and bytes).
std::optional<Access> lmem_write(const Instr& in, const Geometry& geo) {
  if (in.op != Opcode::DmaLoad) return std::nullopt;
  for (const Access& x : accesses(in, geo))
    if (x.space == Space::Lmem && x.write && x.lo < x.hi) return x;
  return std::nullopt;
}

}  // namespace

Instr ConstImage::load() const {
  ops::DmaLoad m;
  const auto b = static_cast<int64_t>(bytes_per_lane);
  m.dtype = static_cast<int64_t>(DType::UInt8);  // bytes move as they are, 4-bit codes included
  m.n = 1, m.c = lanes, m.h = 1, m.w = b;
  m.src = static_cast<int64_t>(ddr_addr), m.src_sn = b * lanes, m.src_sc = b, m.src_sh = b, m.src_sw = 1;
  m.dst = static_cast<int64_t>(lmem), m.dst_sn = b, m.dst_sc = b, m.dst_sh = b, m.dst_sw = 1;
  return m.instr();
}

std::optional<ConstImage> plan_const_image(std::vector<Instr>& loads, uint64_t lo, uint64_t hi, const Arch& a,
                                           uint64_t ddr_addr) {
  const Geometry geo = sim::geometry(a);
  ConstImage im;
  std::vector<Instr> rest;
  uint64_t first = UINT64_MAX, last = 0, parts_cycles = 0;
  for (const Instr& in : loads) {
    const std::optional<Access> x = lmem_write(in, geo);
    if (!x || x->lane_lo != 0 || x->lo < lo || x->hi > hi) {
      rest.push_back(in);
      continue;
    }
    im.parts.push_back(in);
    im.lanes = std::max(im.lanes, x->lane_hi);
    first = std::min(first, x->lo), last = std::max(last, x->hi);
    parts_cycles += sim::cycles(in, a);
  }
  if (im.parts.size() < 2) return std::nullopt;
  im.ddr_addr = ddr_addr, im.lmem = first, im.bytes_per_lane = last - first;
  // One 16-bit w field carries a lane's bytes; the image must fit DDR.
  if (im.bytes_per_lane > static_cast<uint64_t>(kMaxDim) || ddr_addr + im.bytes() > a.ddr_bytes)
    return std::nullopt;
  if (sim::cycles(im.load(), a) >= parts_cycles) return std::nullopt;
  loads = std::move(rest);
  return im;
}

bool same_bytes(const ConstImage& x, const ConstImage& y) {
  if (x.lanes != y.lanes || x.bytes_per_lane != y.bytes_per_lane || x.parts.size() != y.parts.size())
    return false;
  for (size_t i = 0; i < x.parts.size(); ++i) {
    ops::DmaLoad p = ops::DmaLoad::from(x.parts[i]), q = ops::DmaLoad::from(y.parts[i]);
    p.dst -= static_cast<int64_t>(x.lmem), q.dst -= static_cast<int64_t>(y.lmem);
    if (p.instr() != q.instr()) return false;
  }
  return true;
}

DataBlock const_image_data(const ConstImage& im, const std::vector<DataBlock>& data, const Arch& a) {
  DataBlock out;
  out.ddr_addr = im.ddr_addr;
  out.bytes.assign(im.bytes(), 0);
  const auto lanes = static_cast<uint64_t>(a.lanes);
  for (const Instr& in : im.parts) {
    const ops::DmaLoad d = ops::DmaLoad::from(in);
    const auto t = static_cast<DType>(d.dtype);
    const auto src = static_cast<uint64_t>(d.src);
    // The constant block the part reads: the one holding its first and last source element.
    const auto block = std::find_if(data.begin(), data.end(), [&](const DataBlock& b) {
      return b.ddr_addr <= src && src < b.ddr_addr + b.bytes.size();
    });
    const uint64_t last_elem = static_cast<uint64_t>((d.n - 1) * d.src_sn + (d.c - 1) * d.src_sc +
                                                     (d.h - 1) * d.src_sh + (d.w - 1) * d.src_sw);
    if (block == data.end() || src + (last_elem * bits(t)) / 8 >= block->ddr_addr + block->bytes.size())
      throw Error(fmt::format("constant image: a load reads DDR {:#x} outside the constants", src));
    const uint8_t* from = block->bytes.data() + (src - block->ddr_addr);
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t c = 0; c < d.c; ++c) {
        uint8_t* row = out.bytes.data() + (static_cast<uint64_t>(c) % lanes) * im.bytes_per_lane +
                       (static_cast<uint64_t>(d.dst) - im.lmem);
        const int64_t slot = c / static_cast<int64_t>(lanes);
        for (int64_t h = 0; h < d.h; ++h)
          for (int64_t w = 0; w < d.w; ++w) {
            const int64_t s = n * d.src_sn + c * d.src_sc + h * d.src_sh + w * d.src_sw;
            const int64_t e = n * d.dst_sn + slot * d.dst_sc + h * d.dst_sh + w * d.dst_sw;
            store_elem(row, static_cast<uint64_t>(e), t, load_elem(from, static_cast<uint64_t>(s), t));
          }
      }
  }
  return out;
}

void drop_unread_data(Program& p, const Arch& a) {
  const Geometry geo = sim::geometry(a);
  std::vector<std::pair<uint64_t, uint64_t>> reads;  // DDR [lo, hi) of every dma.load
  for (const Instr& in : p.gdma)
    if (in.op == Opcode::DmaLoad)
      for (const Access& x : accesses(in, geo))
        if (x.space == Space::Ddr && !x.write && x.lo < x.hi) reads.emplace_back(x.lo, x.hi);
  std::sort(reads.begin(), reads.end());
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // the reads' union, disjoint and sorted
  for (const auto& r : reads)
    if (!spans.empty() && r.first <= spans.back().second)
      spans.back().second = std::max(spans.back().second, r.second);
    else
      spans.push_back(r);
  // Each block keeps the pieces some load reads (a block only partly read, e.g. a weight tensor
  // whose other channel tiles load from images, shrinks to what is read).
  std::vector<DataBlock> kept;
  for (DataBlock& d : p.data) {
    const uint64_t lo = d.ddr_addr, hi = d.ddr_addr + d.bytes.size();
    auto it = std::upper_bound(spans.begin(), spans.end(), std::pair<uint64_t, uint64_t>{lo, UINT64_MAX});
    if (it != spans.begin() && std::prev(it)->second > lo) --it;
    std::vector<std::pair<uint64_t, uint64_t>> pieces;
    for (; it != spans.end() && it->first < hi; ++it)
      pieces.emplace_back(std::max(lo, it->first), std::min(hi, it->second));
    if (pieces.size() == 1 && pieces[0] == std::pair{lo, hi}) {
      kept.push_back(std::move(d));
      continue;
    }
    for (const auto& [plo, phi] : pieces)
      kept.push_back({plo, std::vector<uint8_t>(d.bytes.begin() + static_cast<std::ptrdiff_t>(plo - lo),
                                                d.bytes.begin() + static_cast<std::ptrdiff_t>(phi - lo))});
  }
  p.data = std::move(kept);
}

uint64_t finish_images(Program& p, const std::vector<ConstImage>& images, uint64_t consts_lo,
                       uint64_t consts_hi, const Arch& a) {
  std::vector<DataBlock> blocks(images.size());  // shared images keep theirs empty
  for (size_t i = 0; i < images.size(); ++i)
    if (images[i].same_as < 0) blocks[i] = const_image_data(images[i], p.data, a);
  drop_unread_data(p, a);
  // Free space: [consts_lo, consts_hi) minus the blocks that remain, 64-byte aligned.
  std::vector<std::pair<uint64_t, uint64_t>> used;
  for (const DataBlock& d : p.data)
    if (d.ddr_addr + d.bytes.size() > consts_lo && d.ddr_addr < consts_hi)
      used.emplace_back(d.ddr_addr, d.ddr_addr + d.bytes.size());
  std::sort(used.begin(), used.end());
  std::vector<std::pair<uint64_t, uint64_t>> gaps;
  uint64_t at = consts_lo;
  for (const auto& [lo, hi] : used) {
    if (lo > at) gaps.emplace_back(at, lo);
    at = std::max(at, hi);
  }
  if (consts_hi > at) gaps.emplace_back(at, consts_hi);
  uint64_t end = align_up(consts_hi, 64);
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].same_as >= 0) continue;
    DataBlock& d = blocks[i];
    const uint64_t size = d.bytes.size();
    const auto gap = std::find_if(gaps.begin(), gaps.end(),
                                  [&](const auto& g) { return align_up(g.first, 64) + size <= g.second; });
    if (gap != gaps.end()) {
      d.ddr_addr = align_up(gap->first, 64);
      gap->first = d.ddr_addr + size;
    } else {
      d.ddr_addr = end;
      end = align_up(end + size, 64);
    }
  }
  for (const ConstImage& im : images) {
    ops::DmaLoad m = ops::DmaLoad::from(p.gdma.at(im.gdma_index));
    m.src = static_cast<int64_t>(
        blocks[static_cast<size_t>(im.same_as < 0 ? &im - images.data() : im.same_as)].ddr_addr);
    p.gdma[im.gdma_index] = m.instr();
  }
  for (DataBlock& d : blocks)
    if (!d.bytes.empty()) p.data.push_back(std::move(d));
  return end;
}

}  // namespace tpusim::compiler::be
