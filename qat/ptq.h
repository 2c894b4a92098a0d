// Post-training quantization of a trained FP32 network: observe every activation the integer
// graph quantizes over calibration images (FP32 forward, BN with running statistics), pick each
// range with the shared calibrators (isa/calibration.h: min-max, EMA, percentile, MSE, KL, the
// same code as `tpusim compile --calib`), quantize weights per output channel. The class scores
// are always calibrated min-max (see ptq.cpp).
#pragma once
#include <cstdint>

#include "isa/calibration.h"
#include "qat/image_tensors.h"
#include "qat/qnet.h"

namespace tpusim::qat {

struct PtqOptions {
  CalibMethod method = CalibMethod::Kl;
  double percentile = 99.99;
  int64_t batch_size = 256;  // EMA's per-batch recurrence depends on it
  bool progress = true;
};

// Leaves q in eval mode with every quantizer in Quantize mode and BN frozen (folded).
void calibrate_ptq(QuantNet& q, const ImageTensors& calib, const PtqOptions& opt);

}  // namespace tpusim::qat
