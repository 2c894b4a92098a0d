#include "workflow/train_loader.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <filesystem>
#include <mutex>

#include "base/error.h"

namespace tpusim::workflow {

namespace {

constexpr const char* kLibraryName = "libtpusim_train.so";

// Beside the running executable (build/tpusim and build/libtpusim_train.so); the environment
// variable TPUSIM_TRAIN_LIBRARY overrides it (an installed layout, a test).
std::filesystem::path library_path() {
  if (const char* env = std::getenv("TPUSIM_TRAIN_LIBRARY"); env && *env) return env;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(kLibraryName) : exe.parent_path() / kLibraryName;
}

const qat::TrainApi* load() {
  const std::filesystem::path path = library_path();
  if (!std::filesystem::exists(path))
    throw Error(
        fmt::format("{}: not found: this build has no QAT toolchain (configure with "
                    "-DTPUSIM_WITH_TORCH=ON and build the tpusim_train target)",
                    path.string()));
  // RTLD_LOCAL: libtorch's symbols stay inside the library. The handle is never closed.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw Error(fmt::format("{}: cannot load: {}", path.string(), dlerror()));
  using Entry = const qat::TrainApi* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, qat::kTrainApiSymbol));
  if (!entry) throw Error(fmt::format("{}: no symbol {}", path.string(), qat::kTrainApiSymbol));
  const qat::TrainApi* api = entry();
  if (!api || api->version != qat::kTrainApiVersion)
    throw Error(fmt::format("{}: built from another version of tpusim (interface {}, expected {})",
                            path.string(), api ? api->version : -1, qat::kTrainApiVersion));
  return api;
}

}  // namespace

const qat::TrainApi& train_api() {
  static std::once_flag once;
  static const qat::TrainApi* api = nullptr;
  std::call_once(once, [] { api = load(); });
  return *api;
}

}  // namespace tpusim::workflow
