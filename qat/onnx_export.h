// ONNX export of a trained model: the FP32 network, or the quantized one as standard QDQ (what
// tpusim's compiler, ONNX Runtime and other tools read), opset 13. Grids narrower than 8 bits are
// written in int8/uint8 containers: weights as int8 constants holding their 4- or 2-bit values,
// activations (and the image) as Clip -> QuantizeLinear -> DequantizeLinear (Brevitas's QCDQ form;
// ONNX Runtime 1.30 rejects its own rewrites of int4/uint4 QDQ). Layout and rules: docs/qat.md,
// "Export".
#pragma once
#include <string>

#include "qat/deploy_model.h"

namespace tpusim::qat {

struct ExportOptions {
  // Write 2..4-bit grids in int4/uint4 tensors (opset 21, IR 10) instead of 8-bit containers:
  // valid ONNX, but ONNX Runtime 1.30 fails to create a session at graph optimisation level
  // "extended" or above when a 4-bit activation feeds a MaxPool or follows a Clip, or (opset 21)
  // a signed activation reaches a Reshape. The compiler reads both forms into the same program.
  bool four_bit_types = false;
};

// The serialised ModelProto: input "image" float32 [N, C, H, W] (N symbolic), pixels in [0, 1];
// output "scores" float32 [N, classes]. Throws Error for a DeployModel that does not match its
// spec (parameter sizes, missing quantization parameters, a weight off its grid).
std::string export_onnx_bytes(const DeployModel& m, const ExportOptions& opt = {});
// Writes export_onnx_bytes to path atomically (temp file, then rename).
void export_onnx(const DeployModel& m, const std::string& path, const ExportOptions& opt = {});

}  // namespace tpusim::qat
