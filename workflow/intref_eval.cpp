#include "workflow/intref_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "base/progress.h"
#include "compiler/int_interp.h"
#include "compiler/lower.h"
#include "compiler/onnx_import.h"

namespace tpusim::workflow {

namespace {

// Images per interpreter run (the last batch is zero-padded); a model whose batch is fixed runs
// at its own batch (torch.onnx exports batch 1).
constexpr int64_t kBatch = 32;

// Runs batches [first, n) with stride `step` (in batches), writing rows of `outputs`.
struct Shared {
  const compiler::IntGraph& g;
  const models::ImageSet& set;
  int64_t n;
  int64_t batch;  // images per run
  std::vector<int32_t>& outputs;
  int64_t classes;
  std::mutex mu;
  int64_t done = 0;
  Progress& bar;
};

void run_batches(Shared& s, int64_t first, int64_t step) {
  const compiler::ITensor& in = s.g.tensor(s.g.inputs[0]);
  const int64_t per = s.set.image_size();
  for (int64_t start = first * s.batch; start < s.n; start += step * s.batch) {
    const int64_t count = std::min(s.batch, s.n - start);
    std::vector<float> x(static_cast<size_t>(s.batch * per), 0.0f);
    for (int64_t i = 0; i < count * per; ++i)
      x[static_cast<size_t>(i)] =
          static_cast<float>(s.set.pixels[static_cast<size_t>(start * per + i)]) / 255.0f;
    compiler::TensorMap inputs;
    inputs.emplace(s.g.float_inputs[0], compiler::make_f32(s.g.float_inputs[0], in.shape, std::move(x)));
    const compiler::IntRun run = compiler::run_int(s.g, compiler::quantize_inputs(s.g, inputs));
    const compiler::IntValue& y = run.values.at(s.g.outputs[0]);
    std::copy(y.data.begin(), y.data.begin() + count * s.classes, s.outputs.begin() + start * s.classes);
    std::lock_guard lock(s.mu);
    s.done += count;
    s.bar.update(s.done, s.n);
  }
}

}  // namespace

IntRefResult int_reference_eval(const std::string& onnx_path, const models::ImageSet& set, int64_t limit,
                                bool progress, int threads) {
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
  const int64_t batch = in.shape[0];
  r.classes = compiler::num_elements(g.tensor(g.outputs[0]).shape) / batch;
  r.output_scale = g.tensor(g.outputs[0]).scale;
  r.output_zero_point = g.tensor(g.outputs[0]).zero_point;
  r.outputs.assign(static_cast<size_t>(n * r.classes), 0);
  Progress bar("int-ref", "images", progress);
  Shared s{g, set, n, batch, r.outputs, r.classes, {}, 0, bar};
  // The interpreter is pure: batches split over threads give the same integers in any order.
  const int64_t workers = std::clamp<int64_t>(threads, 1, std::max<int64_t>(1, (n + batch - 1) / batch));
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  for (int64_t w = 0; w < workers; ++w)
    pool.emplace_back([&, w] {
      try {
        run_batches(s, w, workers);
      } catch (...) {
        errors[static_cast<size_t>(w)] = std::current_exception();
      }
    });
  for (std::thread& t : pool) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  bar.finish();
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto first = r.outputs.begin() + i * r.classes;
    const int64_t p = std::max_element(first, first + r.classes) - first;
    r.predictions.push_back(p);
    hits += p == set.labels[static_cast<size_t>(i)];
  }
  r.top1 = n > 0 ? static_cast<double>(hits) / static_cast<double>(n) : 0.0;
  return r;
}

}  // namespace tpusim::workflow
