// Shared by the fuzz targets (docs/reliability.md): reading structured choices from the input,
// temporary files for the readers that take paths, and the error contract. A rejected input must
// throw tpusim::Error with one non-empty line; any other exception, a crash, a sanitizer report or
// a failed check (fuzz_check) is a finding.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"

namespace fuzz {

// Stops the run with a message libFuzzer shows beside the input that caused it.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what.c_str());
  std::abort();
}
inline void fuzz_check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

// The error contract: one line naming the problem.
inline void check_error(const tpusim::Error& e) {
  const std::string m = e.what();
  fuzz_check(!m.empty(), "empty error message");
  fuzz_check(m.find('\n') == std::string::npos, "error message of more than one line: " + m);
}

// Takes fixed-size choices from the front of the input; zeros once it is used up.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  uint8_t byte() { return n_ ? (--n_, *p_++) : 0; }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{byte()} << (8 * i);
    return v;
  }
  // An integer in [lo, hi] (hi - lo < 256).
  int pick(int lo, int hi) { return lo + byte() % (hi - lo + 1); }
  // Up to `max` bytes: the length is the next two bytes.
  std::span<const uint8_t> chunk(size_t max) {
    size_t len = (size_t{byte()} | size_t{byte()} << 8) % (max + 1);
    if (len > n_) len = n_;
    std::span<const uint8_t> s(p_, len);
    p_ += len, n_ -= len;
    return s;
  }
  std::span<const uint8_t> rest() { return {p_, n_}; }

 private:
  const uint8_t* p_;
  size_t n_;
};

// A file holding `bytes` under the process's own directory in /tmp, for readers that take paths.
std::string temp_file(const std::string& name, std::span<const uint8_t> bytes);

}  // namespace fuzz
