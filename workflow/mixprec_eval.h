// How `tpusim mixprec` measures one bit assignment: the QDQ model exported by the PTQ session
// (the same model `tpusim ptq --qtable` writes), its accuracy and loss on held-out images through
// the compiler's integer reference, and one timed simulator run on the target architecture for
// cycles and energy (as a `tpusim dse` point: cycles do not depend on the data).
#pragma once
#include <string>

#include "isa/arch.h"
#include "models/dataset.h"
#include "qat/jobs.h"
#include "workflow/mixprec_pareto.h"

namespace tpusim::workflow {

struct MixEvalSetup {
  qat::PtqSession* session = nullptr;
  qat::QuantConfig base;  // every layer's bits come from the assignment's qtable on top of it
  const MixSpace* space = nullptr;
  Arch arch;
  int threads = 1;      // integer-reference threads
  std::string scratch;  // where each point's model is written
};

// Seconds spent per stage, summed over the points (report.json "seconds").
struct MixEvalTimes {
  double export_s = 0, int_ref_s = 0, simulate_s = 0;
};

struct Accuracy {
  double top1 = 0, loss = 0;  // fraction; mean cross-entropy of the dequantized scores
};

// Top-1 and loss of a QDQ model on `images` through the integer reference.
Accuracy int_ref_accuracy(const std::string& onnx, const models::ImageSet& images, int threads);

// Exports the assignment to `path` (atomically).
void export_assignment(const MixEvalSetup& s, const Assignment& a, const std::string& path);

// The point of an assignment: exported to s.scratch, measured on `images`, simulated on s.arch.
MixPoint evaluate_assignment(const MixEvalSetup& s, const Assignment& a, const models::ImageSet& images,
                             MixEvalTimes& times);

}  // namespace tpusim::workflow
