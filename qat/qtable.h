// A quantization table (qtable.yaml): per-layer bit widths, one `NAME: wXaY` line per layer, the
// file form of `--layer NAME=wXaY`. `tpusim mixprec` writes it; `tpusim ptq|qat --qtable FILE`
// read it into QuantConfig::layers (the same overrides --layer sets). wX is the layer's weight
// bits, aY the bits of its output grid (so a MAC of layer L runs at int4 rate only when L's
// weights and the output of the layer feeding it are 4-bit; docs/qat.md, "Mixed precision").
#pragma once
#include <string>
#include <vector>

#include "qat/quant_config.h"

namespace tpusim::qat {

struct QTableEntry {
  std::string layer;
  LayerBits bits;
};
using QTable = std::vector<QTableEntry>;  // in file (or model) order, names unique

// "w8a8" for {8, 8}.
std::string bits_name(const LayerBits& b);

// Parses the YAML text of `source` (a file name, for messages): a mapping of layer names to wXaY
// strings; comments allowed. Throws Error "<source>:<line>: <problem>" for invalid YAML, a
// non-mapping, a bad bit width, a duplicate or empty name, or no layer at all.
QTable parse_qtable(const std::string& text, const std::string& source);
// parse_qtable of a file's contents (Error "<path>: cannot read: ..." when unreadable).
QTable read_qtable(const std::string& path);
// Throws Error "<source>: layer 'X' is not in model M (its layers: a, b, ...)" for a name outside
// `layers`.
void check_qtable_layers(const QTable& t, const std::vector<std::string>& layers, const std::string& model,
                         const std::string& source);
// The YAML text parse_qtable reads back to `t`; `comment` (may be empty or several lines) heads it
// as '#' lines.
std::string qtable_yaml(const QTable& t, const std::string& comment);
// Adds the table's layers to q.layers (overriding the same names there).
void apply_qtable(const QTable& t, QuantConfig& q);

}  // namespace tpusim::qat
