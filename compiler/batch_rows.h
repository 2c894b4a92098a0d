// Running a model whose batch dimension is fixed (torch.onnx exports batch 1 by default) on N
// images: the images are cut into runs of the model's batch, each run executed alone, and every
// tensor of the runs stacked along the first axis, so the result reads as one run at batch N.
#pragma once
#include "compiler/fp32_interp.h"
#include "compiler/int_interp.h"

namespace tpusim::compiler {

// Elements [r * E, (r + 1) * E) of t (E = elements of `shape`), as a tensor or value of `shape`.
Tensor slice_rows(const Tensor& t, int64_t r, const Shape& shape);
IntValue slice_rows(const IntValue& v, int64_t r, const Shape& shape);

// Appends one run's value to the stacked one; the first append sizes it for `runs` runs (first
// dimension times runs).
void append_rows(Tensor& stacked, const Tensor& run, int64_t runs);
void append_rows(IntValue& stacked, const IntValue& run, int64_t runs);
// Every computed tensor of a run (constants are kept once), and every integer value.
void append_rows(TensorMap& stacked, const TensorMap& run, int64_t runs);
void append_rows(IntValues& stacked, const IntValues& run, int64_t runs);

}  // namespace tpusim::compiler
