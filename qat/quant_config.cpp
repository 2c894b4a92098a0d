#include "qat/quant_config.h"

#include <fmt/format.h>

#include <regex>

#include "base/error.h"

namespace tpusim::qat {

const char* name(Algo a) {
  switch (a) {
    case Algo::Ema: return "ema";
    case Algo::Lsq: return "lsq";
    case Algo::Pact: return "pact";
    case Algo::Dorefa: return "dorefa";
    case Algo::Fixed: return "fixed";
  }
  return "?";
}

std::optional<Algo> algo_from_name(std::string_view s) {
  for (Algo a : {Algo::Ema, Algo::Lsq, Algo::Pact, Algo::Dorefa, Algo::Fixed})
    if (s == name(a)) return a;
  return std::nullopt;
}

LayerBits parse_bits(const std::string& s) {
  static const std::regex re("w([2-8])a([2-8])");
  std::smatch m;
  if (!std::regex_match(s, m, re))
    throw Error(fmt::format("bits '{}': expected wXaY with X, Y in 2..8 (e.g. w8a8, w4a4, w2a2)", s));
  return {std::stoi(m[1].str()), std::stoi(m[2].str())};
}

}  // namespace tpusim::qat
