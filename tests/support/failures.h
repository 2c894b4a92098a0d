// Counting failures in million-case property tests: one REQUIRE per test instead of one per case,
// with the first failing case kept for the report.
#pragma once
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <string>

namespace tpusim_test {

struct Failures {
  long count = 0;
  std::string first;
  template <class... A>
  void add(fmt::format_string<A...> f, A&&... a) {
    if (count++ == 0) first = fmt::format(f, std::forward<A>(a)...);
  }
};

}  // namespace tpusim_test

#define REQUIRE_NO_FAILURES(f) \
  do {                         \
    INFO((f).first);           \
    REQUIRE((f).count == 0);   \
  } while (0)
