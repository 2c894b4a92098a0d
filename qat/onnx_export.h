// ONNX export of a trained model: the FP32 network, or the quantized one as standard QDQ (what
// tpusim's compiler, ONNX Runtime and other tools read). int8/uint8 grids at opset 13; any 4-bit
// storage (2..4-bit grids) makes it opset 21 with int4/uint4 tensors. Layout and rules:
// docs/qat.md, "Export".
#pragma once
#include <string>

#include "qat/deploy_model.h"

namespace tpusim::qat {

// The serialised ModelProto: input "image" float32 [N, C, H, W] (N symbolic), pixels in [0, 1];
// output "scores" float32 [N, classes]. Throws Error for a DeployModel that does not match its
// spec (parameter sizes, missing quantization parameters, a weight off its grid).
std::string export_onnx_bytes(const DeployModel& m);
// Writes export_onnx_bytes to path atomically (temp file, then rename).
void export_onnx(const DeployModel& m, const std::string& path);

}  // namespace tpusim::qat
