// The QAT toolchain, loaded on first use: `tpusim` links no libtorch, and opens
// libtpusim_train.so (qat/train_plugin.cpp, built beside the tpusim executable) only when a
// command trains, quantizes or exports through libtorch.
#pragma once
#include "qat/jobs.h"

namespace tpusim::workflow {

// The loaded library's entry points (loaded once, kept for the life of the process). Throws Error
// naming the library when it is missing (a build without TPUSIM_WITH_TORCH), does not load, or
// was built from another version of qat/jobs.h.
const qat::TrainApi& train_api();

}  // namespace tpusim::workflow
