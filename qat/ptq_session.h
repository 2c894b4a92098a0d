// The libtorch side of qat::PtqSession (qat/jobs.h): the FP32 network of a `tpusim train` folder
// observed once over the calibration images, then calibrated and exported per bit assignment.
#pragma once
#include <memory>

#include "qat/jobs.h"

namespace tpusim::qat {

std::unique_ptr<PtqSession> open_ptq_session(const PtqJob& job);

}  // namespace tpusim::qat
