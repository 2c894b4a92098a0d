// IntData (compiler/int_data.h), the integer storage of graph tensors: every operation against a
// plain std::vector<int64_t> doing the same, on random sequences that stay inside int8 and ones
// that leave it (the storage widens; the values never change).
#include "compiler/int_data.h"

#include <catch2/catch.hpp>
#include <random>

using tpusim::compiler::IntData;

TEST_CASE("IntData behaves as std::vector<int64_t>, int8 storage while the values fit",
          "[compiler][intdata]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const bool stays_narrow = round % 2 == 0;
    const int64_t lo = stays_narrow ? -128 : -100000, hi = stays_narrow ? 127 : 100000;
    std::uniform_int_distribution<int64_t> val(lo, hi);
    std::uniform_int_distribution<int> op(0, 5);
    IntData d;
    std::vector<int64_t> ref;
    for (int step = 0; step < 60; ++step) {
      const int64_t v = val(rng);
      switch (op(rng)) {
        case 0:
        case 1: d.push_back(v), ref.push_back(v); break;
        case 2:
          if (!ref.empty()) {
            const size_t i = static_cast<size_t>(rng() % ref.size());
            d[i] = v, ref[i] = v;
          }
          break;
        case 3: {
          const size_t n = static_cast<size_t>(rng() % 8);
          d.resize(ref.size() + n, v), ref.resize(ref.size() + n, v);
          break;
        }
        case 4: {
          const std::vector<int64_t> half(ref.begin(),
                                          ref.begin() + static_cast<std::ptrdiff_t>(ref.size() / 2));
          d.append(half.begin(), half.end());
          ref.insert(ref.end(), half.begin(), half.end());
          break;
        }
        default:
          if (step % 20 == 0) d.assign(ref.begin(), ref.end());  // a copy of itself
          break;
      }
      REQUIRE(d.size() == ref.size());
    }
    CHECK(d == ref);
    CHECK(d.vec() == ref);
    CHECK(std::vector<int64_t>(d.begin(), d.end()) == ref);
    for (size_t i = 0; i < ref.size(); ++i) CHECK(static_cast<int64_t>(d[i]) == ref[i]);
    if (stays_narrow) CHECK(d.is_narrow());
  }
  IntData w{1, 2, 3};
  CHECK(w.is_narrow());
  w[1] = 1 << 20;  // widens, keeps the others
  CHECK_FALSE(w.is_narrow());
  CHECK(w == std::vector<int64_t>{1, 1 << 20, 3});
  CHECK(IntData{}.empty());
}
