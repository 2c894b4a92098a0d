// One exception type for every user-facing failure: its message is the single error line the CLI
// prints (it names the file, section, instruction or key at fault).
#pragma once
#include <stdexcept>
#include <string>

namespace tpusim {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tpusim
