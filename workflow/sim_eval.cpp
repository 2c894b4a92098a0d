#include "workflow/sim_eval.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>

#include "base/error.h"
#include "base/progress.h"
#include "isa/numerics.h"
#include "quant/quantize.h"
#include "sim/host_io.h"
#include "sim/restore_plan.h"

namespace tpusim::workflow {

SimEvalResult sim_eval(const Program& p, const Arch& a, const models::ImageSet& set,
                       const SimEvalOptions& opt, const std::string& program_path) {
  if (p.inputs.size() != 1 || p.outputs.size() != 1)
    throw Error(fmt::format("{}: expected one image input and one score output, the program has {} and {}",
                            program_path, p.inputs.size(), p.outputs.size()));
  const TensorDesc& in = p.inputs[0];
  const TensorDesc& out = p.outputs[0];
  const std::vector<int64_t> want{1, set.channels, set.height, set.width};
  if (in.shape != want)
    throw Error(fmt::format("{}: input '{}' has shape [{}], the images of {} need [{}]", program_path,
                            in.name, fmt::join(in.shape, ", "), set.source, fmt::join(want, ", ")));
  SimEvalResult r;
  const int64_t all = opt.limit > 0 ? std::min(opt.limit, set.count) : set.count;
  const int64_t end = opt.end > 0 ? std::min(opt.end, all) : all,
                begin = std::clamp<int64_t>(opt.begin, 0, end);
  r.images = end - begin;
  r.classes = static_cast<int64_t>(out.elements());
  r.outputs.reserve(static_cast<size_t>(r.images * r.classes));
  // Constants are placed once; every image starts from a copy, so runs are independent.
  const sim::DeviceMemory fresh = sim::prepare_memory(p, a);
  // pixel / 255 -> QuantizeLinear has only 256 possible inputs: tabulate them.
  std::array<int32_t, 256> q{};
  for (int v = 0; v < 256; ++v)
    q[static_cast<size_t>(v)] =
        quantize_linear(static_cast<float>(v) / 255.0f, in.scale, in.zero_point, in.dtype);
  const int64_t per = set.image_size();
  std::vector<int32_t> x(static_cast<size_t>(per));
  Progress bar("eval", "images", opt.progress);
  sim::DeviceMemory mem;
  const sim::RestorePlan plan = sim::restore_plan(p, a);
  for (int64_t i = 0; i < r.images; ++i) {
    const int64_t image = begin + i;
    for (int64_t k = 0; k < per; ++k)
      x[static_cast<size_t>(k)] = q[set.pixels[static_cast<size_t>(image * per + k)]];
    sim::restore(mem, fresh, plan);  // only the bytes a run may write, into the same buffers
    sim::write_tensor(mem, in, x);
    sim::RunOptions ro;
    ro.functional = opt.functional;
    ro.keep_events = opt.keep_first_events && i == 0;
    sim::RunResult run = sim::run(p, a, mem, ro);
    sim::accumulate(r.total, run.stats);
    const std::vector<int32_t> y = sim::read_tensor(mem, out);
    const int64_t pred = std::max_element(y.begin(), y.end()) - y.begin();
    r.predictions.push_back(pred);
    r.correct += pred == set.labels[static_cast<size_t>(image)];
    r.outputs.insert(r.outputs.end(), y.begin(), y.end());
    if (i == 0) r.first = std::move(run);
    bar.update(i + 1, r.images);
  }
  bar.finish();
  r.top1 = r.images > 0 ? static_cast<double>(r.correct) / static_cast<double>(r.images) : 0.0;
  return r;
}

int64_t identical_rows(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int64_t classes) {
  const size_t n = std::min(a.size(), b.size()) / static_cast<size_t>(classes);
  int64_t same = 0;
  for (size_t i = 0; i < n; ++i)
    same += std::equal(a.begin() + static_cast<std::ptrdiff_t>(i * classes),
                       a.begin() + static_cast<std::ptrdiff_t>((i + 1) * classes),
                       b.begin() + static_cast<std::ptrdiff_t>(i * classes));
  return same;
}

}  // namespace tpusim::workflow
