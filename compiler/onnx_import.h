// ONNX model -> graph IR (through libonnx's protobuf classes), followed by shape inference, so
// the returned graph has a static shape and element type on every tensor.
//
// Supported: the ops of compiler/ops.h (default domain), float32 models and QDQ models with
// int8/uint8 (per tensor or per axis) and int4/uint4 (opset 21 element types) quantization.
// Every failure is one tpusim::Error line naming the file and, where there is one, the node and
// op type: "model.onnx: node 'conv3' (Conv): weight 'w3' has 3 input channels, input has 16".
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "compiler/graph.h"

namespace tpusim::compiler {

struct ImportOptions {
  // Binds a dynamic first dimension (symbolic, 0 or unset) of the graph inputs. Other dynamic
  // dimensions are an error.
  int64_t batch = 1;
};

Graph import_onnx(const std::string& path, const ImportOptions& options = {});
// `source` names the model in error messages.
Graph import_onnx_bytes(std::span<const uint8_t> bytes, const std::string& source,
                        const ImportOptions& options = {});

}  // namespace tpusim::compiler
