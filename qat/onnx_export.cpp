// ONNX export: one pass over the spec's layers, emitting the QDQ (or FP32) nodes of each, after
// validating the DeployModel against its spec. The patterns are the ones compiler/lower.h accepts;
// docs/qat.md, "Export", lists them.
#include "qat/onnx_export.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <limits>
#include <span>

#include "base/error.h"
#include "base/file_io.h"
#include "isa/numerics.h"
#include "qat/onnx_export_internal.h"

namespace tpusim::qat {

using export_detail::Exporter;

std::string export_onnx_bytes(const DeployModel& m, const ExportOptions& opt) {
  return Exporter(m, opt).run();
}

void export_onnx(const DeployModel& m, const std::string& path, const ExportOptions& opt) {
  const std::string bytes = export_onnx_bytes(m, opt);
  write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace tpusim::qat
