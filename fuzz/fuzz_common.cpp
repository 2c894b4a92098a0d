#include "fuzz/fuzz_common.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

namespace fuzz {
namespace {

// /tmp/tpusim-fuzz-<pid>, removed when the process exits normally.
struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("tpusim-fuzz-" + std::to_string(getpid()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

std::string temp_file(const std::string& name, std::span<const uint8_t> bytes) {
  static const TempDir dir;
  const std::string path = (dir.path / name).string();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) fail("cannot write " + path);
  return path;
}

}  // namespace fuzz
