// packed_conv_weights (isa/conv_weight_cache.h): a small per-thread cache of packed conv weights,
// each entry with a copy of the raw LMEM bytes it was packed from.
#include "isa/conv_weight_cache.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "isa/numerics.h"

namespace tpusim::sem {

int64_t quad_steps(const ConvWeightKey& k) {
  if (k.layout == QuadLayout::ChannelQuads) return k.kh * k.kw * ((k.icg + 3) / 4);
  return k.kh * ((k.kw * k.icg + 3) / 4);
}

namespace {

// Bounds of the cache: enough for every conv of a ResNet-50, small beside the simulated memories.
constexpr size_t kMaxEntries = 96;
constexpr size_t kMaxBytes = size_t{256} << 20;

struct Entry {
  ConvWeightKey key;
  std::vector<uint8_t> raw;  // the rows' bytes in channel order
  PackedConvWeights packed;
  uint64_t last_use = 0;
  size_t bytes() const { return raw.size() + packed.w.size() + packed.wsum.size() * 4; }
};

// The bytes holding channel o's codes (for 4-bit codes, whole bytes around them).
struct RowBytes {
  const uint8_t* p;
  size_t n;
};
RowBytes row_bytes(const ConvWeightKey& k, const Tensor& weight, const MemView& m, int64_t o) {
  const Plane wp = plane(weight, m, 0, static_cast<uint64_t>(o));
  const auto taps = static_cast<uint64_t>(k.icg * k.kh * k.kw);
  const int b = bits(k.dtype);
  const uint64_t first = wp.index * b / 8, last = ((wp.index + taps) * b + 7) / 8;
  return {wp.base + first, static_cast<size_t>(last - first)};
}

bool same_raw(const Entry& e, const Tensor& weight, const MemView& m) {
  size_t at = 0;
  for (int64_t o = 0; o < e.key.oc; ++o) {
    const RowBytes r = row_bytes(e.key, weight, m, o);
    if (at + r.n > e.raw.size() || std::memcmp(r.p, e.raw.data() + at, r.n) != 0) return false;
    at += r.n;
  }
  return at == e.raw.size();
}

// Weight code of step k, byte j of channel o (row = its codes [ci][ky][kx]), 0 past the kernel.
int8_t quad_code(const ConvWeightKey& key, const int8_t* row, int64_t k, int64_t j) {
  int64_t ci = 0, ky = 0, kx = 0;
  if (key.layout == QuadLayout::ChannelQuads) {
    const int64_t cqs = (key.icg + 3) / 4, t = k / cqs;
    ci = (k % cqs) * 4 + j, ky = t / key.kw, kx = t % key.kw;
    if (ci >= key.icg) return 0;
  } else {
    const int64_t rs = (key.kw * key.icg + 3) / 4, e = (k % rs) * 4 + j;
    ky = k / rs, kx = e / key.icg, ci = e % key.icg;
    if (kx >= key.kw) return 0;
  }
  return row[(ci * key.kh + ky) * key.kw + kx];
}

void pack(Entry& e, const Tensor& weight, const MemView& m) {
  const ConvWeightKey& k = e.key;
  const int64_t taps = k.icg * k.kh * k.kw, ocg = k.oc / k.groups;
  PackedConvWeights& p = e.packed;
  p.k4 = quad_steps(k), p.ocg4 = (ocg + 3) / 4 * 4;
  p.w.assign(static_cast<size_t>(k.groups * p.ocg4 * p.k4 * 4), 0);
  p.wsum.assign(static_cast<size_t>(k.oc), 0);
  std::vector<int8_t> row(static_cast<size_t>(taps));
  for (int64_t o = 0; o < k.oc; ++o) {
    const RowBytes r = row_bytes(k, weight, m, o);
    e.raw.insert(e.raw.end(), r.p, r.p + r.n);
    const Plane wp = plane(weight, m, 0, static_cast<uint64_t>(o));
    int32_t sum = 0;
    for (int64_t t = 0; t < taps; ++t) {
      row[static_cast<size_t>(t)] = static_cast<int8_t>(load_elem(wp.base, wp.index + t, k.dtype));
      sum += row[static_cast<size_t>(t)];
    }
    p.wsum[static_cast<size_t>(o)] = sum;
    const int64_t g = o / ocg, og = o % ocg;
    int8_t* blk = p.w.data() + (g * p.ocg4 / 4 + og / 4) * p.k4 * 16 + (og % 4) * 4;
    for (int64_t s = 0; s < p.k4; ++s)
      for (int64_t j = 0; j < 4; ++j) blk[s * 16 + j] = quad_code(k, row.data(), s, j);
  }
}

}  // namespace

const PackedConvWeights& packed_conv_weights(const ConvWeightKey& key, const Tensor& weight,
                                             const MemView& m) {
  thread_local std::vector<std::unique_ptr<Entry>> cache;
  thread_local uint64_t clock = 0;
  ++clock;
  for (auto& e : cache)
    if (e->key == key && same_raw(*e, weight, m)) {
      e->last_use = clock;
      return e->packed;
    }
  auto fresh = std::make_unique<Entry>();
  fresh->key = key;
  pack(*fresh, weight, m);
  fresh->last_use = clock;
  // Evict the least recently used entries beyond the bounds (the fresh one stays).
  size_t bytes = fresh->bytes();
  for (const auto& e : cache) bytes += e->bytes();
  while (!cache.empty() && (cache.size() + 1 > kMaxEntries || bytes > kMaxBytes)) {
    auto oldest = std::min_element(cache.begin(), cache.end(),
                                   [](const auto& a, const auto& b) { return a->last_use < b->last_use; });
    bytes -= (*oldest)->bytes();
    cache.erase(oldest);
  }
  cache.push_back(std::move(fresh));
  return cache.back()->packed;
}

}  // namespace tpusim::sem
