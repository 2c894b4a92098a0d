// Fixtures shared by program_test.cpp and program_fuzz_test.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "isa/program.h"

namespace tpusim_test {

// A section's place per the section table (header layout of docs/tpu-format.md).
struct Section {
  uint64_t offset = 0, size = 0;
};
Section find_section(const std::vector<uint8_t>& bytes, uint32_t kind);
// A representative valid program on the default preset: loads, conv2d, pool, store, syncs, data,
// I/O descriptors and a debug map.
tpusim::Program sample_program();
// Requires fn() to throw tpusim::Error whose one-line message equals `expected`.
void require_error(const std::function<void()>& fn, const std::string& expected);

}  // namespace tpusim_test
