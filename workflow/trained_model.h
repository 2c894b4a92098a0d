// What a `tpusim train` folder holds, read without libtorch: its report.json names the zoo model
// and the input, which give the layer list (mixprec's search space, --qtable's layer check).
#pragma once
#include <string>

#include "models/model_spec.h"
#include "qat/qtable.h"

namespace tpusim::workflow {

// Throws Error naming DIR/report.json when it is missing, not JSON, or not an FP32 training run.
models::ModelSpec trained_spec(const std::string& dir);

// read_qtable(path), every layer checked against the model of the `tpusim train` folder `from`.
qat::QTable read_qtable_for(const std::string& path, const std::string& from);

}  // namespace tpusim::workflow
