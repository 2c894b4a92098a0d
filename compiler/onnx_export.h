// Graph IR -> ONNX model (the inverse of onnx_import.h), for `tpusim compile --calib ... --save-qdq`:
// a graph import_onnx + canonicalize produced, optionally calibrated by quantize_fp32, written back as
// standard default-domain ONNX that import_onnx reads back into the same IR (same FP32 results bit for
// bit, same lowering) and that ONNX Runtime runs.
//
// - Opset (0 = automatic): 13, or 20 with a Gelu node, or 21 (IR version 10) when a graph input or
//   output is int4/uint4. An explicit opset must be >= 13 (>= 21 with 4-bit graph inputs/outputs).
// - Every other 4-bit tensor is written in the 8-bit type of its signedness (QCDQ): 4-bit weight
//   constants as int8/uint8 holding the same values, a 4-bit QuantizeLinear after a Clip to its
//   grid's range. ONNX Runtime 1.30 cannot create a session for int4/uint4 activations feeding a
//   MaxPool or following a Clip, nor (at opset 21) for signed activations reaching a Reshape.
//   Import's narrow_storage pass stores them in 4 bits again (the same program).
// - Graph inputs and outputs with their static shapes and element types; every constant a node reads
//   as an initializer (raw_data, little-endian; int4/uint4 packed two per byte, low nibble first).
// - IR-only ops become standard ones: ChannelAffine -> Mul(x, s[C,1,1]) -> Add(t[C,1,1]); Silu ->
//   Sigmoid + Mul; HardSwish with other than alpha 1/6, beta 1/2 (or below opset 14) -> HardSigmoid +
//   Mul; ChannelGather -> Slice (channels in steps), the Reshape -> Transpose -> Reshape channel
//   shuffle, or else Gather(axis 1); Rearrange -> the Transpose, Slice or Resize (nearest,
//   asymmetric, floor) it came from; Gelu below opset 20 -> its Div/Erf/Add/Mul (Tanh) formula.
//   Canonicalization fuses the first four back on import.
// - Anything else (an op only canonicalization handles) throws Error naming the node and op.
#pragma once
#include <cstdint>
#include <string>

#include "compiler/graph.h"

namespace tpusim::compiler {

// The serialised onnx::ModelProto.
std::string export_onnx(const Graph& g, int64_t opset = 0);
// export_onnx written atomically (base/file_io.h).
void save_onnx(const Graph& g, const std::string& path);

}  // namespace tpusim::compiler
