// The search space of `tpusim mixprec` (docs/qat.md, "Mixed precision"). A MAC runs at int4 rate
// only when both of its operands are 4-bit, so the unit of the search is a layer's MACs: each
// Conv/Linear layer takes one candidate wXaY as its weight bits X and the bits Y of the activation
// it reads. The activation grids follow from those choices: a tensor gets the lowest bits any
// layer reading it chose (through max pools and flattens, and an Add's inputs take its output's
// bits); the image stays 8-bit, and so do the class scores. The qtable written out is the same
// assignment in `--layer` form: per requantizing layer, its weight bits and its output bits.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/model_spec.h"
#include "qat/qtable.h"

namespace tpusim::workflow {

// "w8a8,w4a8,w4a4": unique wXaY values, ordered most precise first (more weight + activation
// bits; ties: more weight bits). Throws Error "--candidates '...': ..." for a bad value, a
// repeat, or fewer than two.
std::vector<qat::LayerBits> parse_candidates(const std::string& list);

struct MixLayer {
  std::string name;
  std::vector<qat::LayerBits> choices;  // (weight, input) bits, most precise first
  size_t index = 0;                     // in the model spec
  bool reads_image = false;             // its input is the 8-bit image: only its weights vary
};

struct MixSpace {
  models::ModelSpec spec;
  std::vector<MixLayer> layers;  // the Conv/Linear layers, in order
  qat::LayerBits top;            // the most precise candidate
};

MixSpace mixprec_space(const models::ModelSpec& spec, const std::vector<qat::LayerBits>& candidates);

// One choice index per searched layer (0 = most precise).
using Assignment = std::vector<int>;

// Every layer at candidate c (as far as it applies to the layer).
Assignment uniform_assignment(const MixSpace& s, const qat::LayerBits& c);
// The assignment in `--layer` form: every Conv/Linear/Add/GlobalAvgPool layer with its weight bits
// (the top candidate's where it has none) and its output bits.
qat::QTable to_qtable(const MixSpace& s, const Assignment& a);
// "conv1=w8a8 conv2=w4a4 ...": each searched layer's (weight, input) bits, for logs.
std::string assignment_text(const MixSpace& s, const Assignment& a);
// Bytes of the Conv/Linear weights at their assigned bits (biases and requant parameters left
// out), as the program stores them (weights of 4 bits or fewer two per byte).
int64_t weight_bytes(const models::ModelSpec& spec, const qat::QTable& t);

}  // namespace tpusim::workflow
