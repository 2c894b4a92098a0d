// Post-training quantization of a trained FP32 network: observe every activation the integer
// graph quantizes over calibration images (FP32 forward, BN with running statistics), pick each
// range with the shared calibrators (quant/calibration.h: min-max, EMA, percentile, MSE, KL, the
// same code as `tpusim compile --calib`), quantize weights per output channel. The class scores
// are always calibrated min-max (see ptq.cpp).
#pragma once
#include <cstdint>

#include "qat/image_tensors.h"
#include "qat/jobs.h"
#include "qat/qnet.h"
#include "quant/calibration.h"

namespace tpusim::qat {

// Leaves q in eval mode with every quantizer in Quantize mode and BN frozen (folded).
void calibrate_ptq(QuantNet& q, const ImageTensors& calib, const PtqOptions& opt);

// The two halves of calibrate_ptq. The observers see FP32 activations (every quantizer is the
// identity while observing), so what `observed` recorded serves any bit widths of the same
// network: mixprec observes once and calibrates each assignment it tries from it.
void observe_ptq(QuantNet& observed, const ImageTensors& calib, const PtqOptions& opt);
// Chooses q's ranges from the observers of `observed` (same layers, any bits), matched by tensor
// name; leaves q as calibrate_ptq does.
void calibrate_ptq_from(QuantNet& q, const QuantNet& observed, const PtqOptions& opt);

}  // namespace tpusim::qat
