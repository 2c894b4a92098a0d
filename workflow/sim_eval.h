// Top-1 accuracy of a compiled program through the simulator, on dataset images: the accuracy a
// user would see on the accelerator. Shared by `tpusim eval` and `tpusim demo`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "isa/arch.h"
#include "isa/program.h"
#include "models/dataset.h"
#include "sim/simulator.h"

namespace tpusim::workflow {

struct SimEvalOptions {
  int64_t limit = 0;               // first N images (0 = all)
  bool functional = false;         // untimed functional mode (no cycles)
  bool keep_first_events = false;  // record the first image's event log (for a trace)
  bool progress = false;
  // Only images [begin, end) of the first `limit` (end 0: to the last); a worker of sim_eval_jobs.
  int64_t begin = 0, end = 0;
};

struct SimEvalResult {
  int64_t images = 0;  // evaluated: end - begin
  int64_t correct = 0;
  double top1 = 0;
  int64_t classes = 0;
  std::vector<int64_t> predictions;  // first max of the output integers per image
  std::vector<int32_t> outputs;      // the output integers, images x classes
  sim::Stats total;                  // summed over the images (one device, back to back)
  sim::RunResult first;              // the first image's run (events with keep_first_events)
};

// The program must have one input of shape [1, C, H, W] matching the images and one output.
// Each image, pixels / 255 in float, is quantized as ONNX QuantizeLinear with the input's scale
// and zero point (the same host step as `tpusim run` and the integer reference), then run from
// fresh memory. Throws Error naming `program_path` on a shape mismatch.
SimEvalResult sim_eval(const Program& p, const Arch& a, const models::ImageSet& set,
                       const SimEvalOptions& opt, const std::string& program_path);

// How many images (rows of `classes` integers) of `a` and `b` are identical, element for element.
int64_t identical_rows(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int64_t classes);

}  // namespace tpusim::workflow
