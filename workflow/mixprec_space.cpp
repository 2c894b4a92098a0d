#include "workflow/mixprec_space.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "base/error.h"

namespace tpusim::workflow {

using models::LayerKind;

namespace {

bool has_weights(const models::Layer& l) { return l.kind == LayerKind::Conv || l.kind == LayerKind::Linear; }
bool requantizes(const models::Layer& l) {
  return has_weights(l) || l.kind == LayerKind::Add || l.kind == LayerKind::GlobalAvgPool;
}
bool same(const qat::LayerBits& a, const qat::LayerBits& b) { return a.weight == b.weight && a.act == b.act; }

// What candidate c means on a layer: a layer reading the image cannot lower its input.
qat::LayerBits effective(const qat::LayerBits& c, const qat::LayerBits& top, bool reads_image) {
  return {c.weight, reads_image ? top.act : c.act};
}

}  // namespace

std::vector<qat::LayerBits> parse_candidates(const std::string& list) {
  std::vector<qat::LayerBits> v;
  std::stringstream s(list);
  for (std::string item; std::getline(s, item, ',');) {
    qat::LayerBits b;
    try {
      b = qat::parse_bits(item);
    } catch (const Error& e) {
      throw Error(fmt::format("--candidates '{}': {}", list, e.what()));
    }
    for (const qat::LayerBits& o : v)
      if (same(o, b)) throw Error(fmt::format("--candidates '{}': {} is given twice", list, item));
    v.push_back(b);
  }
  if (v.size() < 2)
    throw Error(fmt::format("--candidates '{}': give at least two bit widths (e.g. w8a8,w4a8,w4a4)", list));
  std::stable_sort(v.begin(), v.end(), [](const qat::LayerBits& a, const qat::LayerBits& b) {
    return a.weight + a.act != b.weight + b.act ? a.weight + a.act > b.weight + b.act : a.weight > b.weight;
  });
  return v;
}

MixSpace mixprec_space(const models::ModelSpec& spec, const std::vector<qat::LayerBits>& candidates) {
  MixSpace s{spec, {}, candidates.front()};
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const models::Layer& l = spec.layers[i];
    if (!has_weights(l)) continue;
    MixLayer m{l.name, {}, i, l.inputs[0] == models::kImage};
    for (const qat::LayerBits& c : candidates) {
      const qat::LayerBits e = effective(c, s.top, m.reads_image);
      if (std::none_of(m.choices.begin(), m.choices.end(),
                       [&](const qat::LayerBits& o) { return same(o, e); }))
        m.choices.push_back(e);
    }
    s.layers.push_back(std::move(m));
  }
  return s;
}

Assignment uniform_assignment(const MixSpace& s, const qat::LayerBits& c) {
  Assignment a;
  for (const MixLayer& l : s.layers) {
    const qat::LayerBits e = effective(c, s.top, l.reads_image);
    const auto it =
        std::find_if(l.choices.begin(), l.choices.end(), [&](const qat::LayerBits& o) { return same(o, e); });
    if (it == l.choices.end())
      throw Error(fmt::format("{} is not a candidate of layer {}", qat::bits_name(c), l.name));
    a.push_back(static_cast<int>(it - l.choices.begin()));
  }
  return a;
}

qat::QTable to_qtable(const MixSpace& s, const Assignment& a) {
  const std::vector<models::Layer>& L = s.spec.layers;
  const size_t n = L.size();
  std::vector<const qat::LayerBits*> chosen(n, nullptr);
  for (size_t k = 0; k < s.layers.size(); ++k) chosen[s.layers[k].index] = &s.layers[k].choices.at(a.at(k));
  // need[i]: the bits the readers of layer i's output want; layers only read earlier ones, so a
  // backward sweep sees every reader's need first.
  std::vector<std::vector<size_t>> readers(n);
  for (size_t i = 0; i < n; ++i)
    for (int in : L[i].inputs)
      if (in != models::kImage) readers[static_cast<size_t>(in)].push_back(i);
  std::vector<int> need(n, s.top.act);
  for (size_t i = n; i-- > 0;) {
    if (readers[i].empty()) continue;
    int v = 8;
    for (size_t r : readers[i]) v = std::min(v, chosen[r] ? chosen[r]->act : need[r]);
    need[i] = v;
  }
  qat::QTable t;
  for (size_t i = 0; i < n; ++i)
    if (requantizes(L[i]))
      t.push_back(
          {L[i].name, {chosen[i] ? chosen[i]->weight : s.top.weight, i + 1 == n ? s.top.act : need[i]}});
  return t;
}

std::string assignment_text(const MixSpace& s, const Assignment& a) {
  std::string t;
  for (size_t k = 0; k < s.layers.size(); ++k)
    t += fmt::format("{}{}={}", t.empty() ? "" : " ", s.layers[k].name,
                     qat::bits_name(s.layers[k].choices.at(a.at(k))));
  return t;
}

int64_t weight_bytes(const models::ModelSpec& spec, const qat::QTable& t) {
  int64_t bits = 0;
  for (const models::Layer& l : spec.layers) {
    if (!has_weights(l)) continue;
    const auto it =
        std::find_if(t.begin(), t.end(), [&](const qat::QTableEntry& e) { return e.layer == l.name; });
    const int wb = it == t.end() ? 8 : it->bits.weight;
    const int64_t count =
        l.out_ch * (l.in_ch / l.groups) * (l.kind == LayerKind::Conv ? l.kernel * l.kernel : 1);
    bits += count * (wb <= 4 ? 4 : 8);  // the storage types: int4 or int8
  }
  return bits / 8;
}

}  // namespace tpusim::workflow
