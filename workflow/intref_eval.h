// Top-1 accuracy of a QDQ ONNX model through the compiler's integer reference interpreter
// (compiler/int_interp.h), on dataset images: what the simulator must reproduce bit for bit. Used
// by `tpusim ptq`/`qat` to measure the fake-quant -> integer gap.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/dataset.h"

namespace tpusim::workflow {

struct IntRefResult {
  int64_t images = 0;
  double top1 = 0;
  int64_t classes = 0;
  std::vector<int64_t> predictions;  // first max of the output integers per image
  std::vector<int32_t> outputs;      // the output integers, images x classes
  float output_scale = 1.0f;         // real score = (output - output_zero_point) * output_scale
  int32_t output_zero_point = 0;
};

// The first `limit` images of `set` (all when limit <= 0), pixels / 255 as the float input, in
// batches of 32 spread over `threads` threads.
IntRefResult int_reference_eval(const std::string& onnx_path, const models::ImageSet& set, int64_t limit,
                                bool progress, int threads = 1);

}  // namespace tpusim::workflow
