#include "workflow/mixprec_eval.h"

#include <chrono>
#include <cmath>

#include "workflow/dse_point.h"
#include "workflow/intref_eval.h"

namespace tpusim::workflow {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Accuracy int_ref_accuracy(const std::string& onnx, const models::ImageSet& images, int threads) {
  const IntRefResult r = int_reference_eval(onnx, images, 0, false, threads);
  // Cross-entropy of softmax over the real scores: smoother than top-1 on a few hundred images,
  // so it orders the layers even where no prediction flips.
  double loss = 0;
  for (int64_t i = 0; i < r.images; ++i) {
    const int32_t* q = r.outputs.data() + i * r.classes;
    std::vector<double> z(static_cast<size_t>(r.classes));
    double top = -INFINITY;
    for (int64_t c = 0; c < r.classes; ++c) {
      z[static_cast<size_t>(c)] = static_cast<double>(q[c] - r.output_zero_point) * r.output_scale;
      top = std::max(top, z[static_cast<size_t>(c)]);
    }
    double sum = 0;
    for (double v : z) sum += std::exp(v - top);
    loss += top + std::log(sum) - z[images.labels[static_cast<size_t>(i)]];
  }
  return {r.top1, r.images > 0 ? loss / static_cast<double>(r.images) : 0.0};
}

void export_assignment(const MixEvalSetup& s, const Assignment& a, const std::string& path) {
  qat::QuantConfig q = s.base;
  qat::apply_qtable(to_qtable(*s.space, a), q);
  s.session->export_model(q, path);
}

MixPoint evaluate_assignment(const MixEvalSetup& s, const Assignment& a, const models::ImageSet& images,
                             MixEvalTimes& times) {
  auto t = std::chrono::steady_clock::now();
  export_assignment(s, a, s.scratch);
  times.export_s += seconds_since(t);

  t = std::chrono::steady_clock::now();
  const Accuracy acc = int_ref_accuracy(s.scratch, images, s.threads);
  times.int_ref_s += seconds_since(t);

  t = std::chrono::steady_clock::now();
  const sim::Stats stats = dse::simulate(dse::load_model(s.scratch), s.arch);
  times.simulate_s += seconds_since(t);

  MixPoint p;
  p.assignment = a;
  p.accuracy = acc.top1;
  p.loss = acc.loss;
  p.cycles = static_cast<int64_t>(stats.total_cycles);
  p.energy_nj = sim::energy(stats, s.arch).total_pj * 1e-3;
  p.weight_bytes = weight_bytes(s.space->spec, to_qtable(*s.space, a));
  return p;
}

}  // namespace tpusim::workflow
