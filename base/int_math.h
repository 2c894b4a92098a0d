// Integer helpers shared by the compiler, the simulator and the tests.
#pragma once
#include <cstdint>

namespace tpusim {

// ceil(a / b) for a >= 0 and b > 0 (sizes and counts; no overflow check): signed for shapes and
// strides, unsigned for byte and cycle counts.
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
constexpr uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace tpusim
