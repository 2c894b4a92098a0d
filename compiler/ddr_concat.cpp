// Back end, DDR allocation of concat inputs in place: a concat whose slices are contiguous in its
// output (every dim before the axis of extent 1, e.g. a channel concat at batch 1) gets its inputs
// stored straight into its output, so the concat itself moves nothing. Later concats are placed
// first, so an address is final before anything is placed inside it; a concat whose inputs already
// lie one after another inside a later concat's output (DenseNet's growing concats are prefixes of
// the block's last one) becomes that range itself. Every tensor still has compact storage of its own
// shape, so producers and consumers address it as before; only its address moves.
#include <algorithm>
#include <set>

#include "compiler/ddr_alloc.h"
#include "compiler/tiling.h"

namespace tpusim::compiler::be {

namespace {

struct Place {
  std::string parent;
  int64_t offset = 0;  // elements
};

}  // namespace

void place_concat_inputs(const IntGraph& g, DdrMap& m) {
  std::set<std::string> produced, external;
  for (const IOp& op : g.ops) produced.insert(op.output);
  for (const std::string& t : g.inputs) external.insert(g.storage(t));
  for (const std::string& t : g.outputs) external.insert(g.storage(t));
  std::map<std::string, Place> placed;
  for (size_t j = g.ops.size(); j-- > 0;) {
    const IOp& op = g.ops[j];
    const IConcat* cc = op.as<IConcat>();
    if (!cc) continue;
    const ITensor& y = g.tensor(op.output);
    if (!y.view_of.empty() || num_elements(Shape(y.shape.begin(), y.shape.begin() + cc->axis)) != 1) continue;
    const int64_t inner = num_elements(Shape(y.shape.begin() + cc->axis + 1, y.shape.end()));
    std::vector<bool>& in_place = m.concat_in_place[op.output];
    in_place.assign(op.inputs.size(), false);
    // Inputs already one after another inside one parent: the concat is that range.
    const auto first = placed.find(op.inputs[0]);
    bool range = first != placed.end() && !placed.count(op.output) && !external.count(op.output);
    for (size_t i = 0, at = 0; range && i < op.inputs.size(); ++i) {
      const auto p = placed.find(op.inputs[i]);
      range = p != placed.end() && p->second.parent == first->second.parent &&
              p->second.offset == first->second.offset + int64_t(at) * inner;
      at += size_t(g.tensor(op.inputs[i]).shape[static_cast<size_t>(cc->axis)]);
    }
    if (range) {
      placed[op.output] = first->second;
      m.addr[op.output] =
          m.addr.at(first->second.parent) + packed_bytes(y.dtype, uint64_t(first->second.offset));
      in_place.assign(op.inputs.size(), true);
      continue;
    }
    int64_t at = 0;
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      const std::string& in = op.inputs[i];
      const ITensor& t = g.tensor(in);
      const int64_t off = at * inner;
      at += t.shape[static_cast<size_t>(cc->axis)];
      const bool once = std::count(op.inputs.begin(), op.inputs.end(), in) == 1;
      if (!t.view_of.empty() || !produced.count(in) || external.count(in) || placed.count(in) || !once ||
          t.dtype != y.dtype || (is_4bit(y.dtype) && off % 2))
        continue;
      placed[in] = {op.output, off};
      m.addr[in] = m.addr.at(op.output) + packed_bytes(y.dtype, uint64_t(off));
      in_place[i] = true;
    }
  }
}

}  // namespace tpusim::compiler::be
