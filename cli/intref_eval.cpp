#include "cli/intref_eval.h"

#include <fmt/format.h>

#include <algorithm>

#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "isa/error.h"
#include "isa/progress.h"

namespace tpusim::cli {

IntRefResult int_reference_eval(const std::string& onnx_path, const models::ImageSet& set, int64_t limit,
                                bool progress) {
  constexpr int64_t kBatch = 32;  // images per interpreter run; the last batch is zero-padded
  const int64_t n = limit > 0 ? std::min(limit, set.count) : set.count;
  const compiler::IntGraph g = compiler::lower_qdq(compiler::import_onnx(onnx_path, {kBatch}));
  if (g.float_inputs.size() != 1 || g.outputs.size() != 1)
    throw Error(fmt::format("{}: expected one image input and one score output", onnx_path));
  const compiler::ITensor& in = g.tensor(g.inputs[0]);
  if (in.shape.size() != 4 || in.shape[1] != set.channels || in.shape[2] != set.height ||
      in.shape[3] != set.width)
    throw Error(fmt::format("{}: input shape does not match the {}x{}x{} images of {}", onnx_path,
                            set.channels, set.height, set.width, set.source));
  IntRefResult r;
  r.images = n;
  int64_t hits = 0;
  Progress bar("int-ref", "images", progress);
  const int64_t per = set.image_size();
  for (int64_t start = 0; start < n; start += kBatch) {
    const int64_t count = std::min(kBatch, n - start);
    std::vector<float> x(static_cast<size_t>(kBatch * per), 0.0f);
    for (int64_t i = 0; i < count * per; ++i)
      x[static_cast<size_t>(i)] =
          static_cast<float>(set.pixels[static_cast<size_t>(start * per + i)]) / 255.0f;
    compiler::TensorMap inputs;
    inputs.emplace(g.float_inputs[0], compiler::make_f32(g.float_inputs[0], in.shape, std::move(x)));
    const compiler::IntRun run = compiler::run_int(g, compiler::quantize_inputs(g, inputs));
    const compiler::IntValue& y = run.values.at(g.outputs[0]);
    const int64_t classes = static_cast<int64_t>(y.data.size()) / kBatch;
    for (int64_t b = 0; b < count; ++b) {
      const auto first = y.data.begin() + b * classes;
      const int64_t p = std::max_element(first, first + classes) - first;
      r.predictions.push_back(p);
      hits += p == set.labels[static_cast<size_t>(start + b)];
    }
    bar.update(start + count, n);
  }
  bar.finish();
  r.top1 = n > 0 ? static_cast<double>(hits) / static_cast<double>(n) : 0.0;
  return r;
}

}  // namespace tpusim::cli
