#include "qat/jobs.h"

#include <filesystem>

#include "base/file_io.h"

namespace tpusim::qat {

void write_report(const std::string& out, const nlohmann::json& report) {
  write_file_atomic((std::filesystem::path(out) / "report.json").string(), report.dump(2) + "\n");
}

}  // namespace tpusim::qat
