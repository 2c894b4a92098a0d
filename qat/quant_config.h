// The QAT toolchain's configuration, without libtorch: quantization algorithms, bit widths and
// the quantizer layout of a network. Shared by qat/ (which trains with it) and the command line
// (which only fills it in), so that `tpusim` itself never includes a libtorch header.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "quant/calibration.h"

namespace tpusim::qat {

enum class Algo {
  Ema,     // STE, activation ranges by EMA of batch min/max, weights by current per-channel max|w|
  Lsq,     // learned step size (weights per channel, activations per tensor)
  Pact,    // learned clipping level alpha for ReLU outputs (L2-decayed); weights as Ema
  Dorefa,  // tanh-normalised weights; ReLU outputs clipped to [0, 1]
  Fixed,   // PTQ: parameters set by calibration, never updated
};
const char* name(Algo a);  // "ema", "lsq", "pact", "dorefa", "fixed"
std::optional<Algo> algo_from_name(std::string_view s);

struct LayerBits {
  int weight = 8, act = 8;
};

struct QuantConfig {
  LayerBits bits;            // every layer unless overridden
  int first_layer_bits = 8;  // weights of the first Conv/Linear (0 = no override)
  int last_layer_bits = 8;   // weights of the last one and the activation feeding it (0 = none)
  int output_bits = 8;       // the class scores' grid
  std::map<std::string, LayerBits> layers;  // per-layer overrides by name (take precedence)
  Algo algo = Algo::Ema;
  bool narrow_weights = false;  // weights on [-(2^(b-1)-1), 2^(b-1)-1] instead of the full grid
  ObserverOptions observer;
};

// "w8a8", "w4a4", "w4a8", "w2a2", ...: weight and activation bits (2..8). Throws Error otherwise.
LayerBits parse_bits(const std::string& s);

}  // namespace tpusim::qat
