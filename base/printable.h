// Input text quoted in an error message: error messages are one line (base/error.h), so control
// characters from a file (newlines, escapes) are shown as \xNN and long text is cut.
#pragma once
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace tpusim {

// `s` with bytes below 0x20 and 0x7f as \xNN (other bytes, UTF-8 included, kept), cut to `max`
// bytes of input followed by "..." when longer.
inline std::string printable(std::string_view s, size_t max = 80) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace tpusim
