#include "workflow/mixprec.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "base/file_io.h"
#include "base/progress.h"
#include "workflow/mixprec_report.h"
#include "workflow/python_script.h"
#include "workflow/qat_jobs.h"
#include "workflow/train_loader.h"
#include "workflow/trained_model.h"
#include "workflow/worker_pool.h"

namespace tpusim::workflow {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Images [first, first + n) of a set.
models::ImageSet slice(const models::ImageSet& s, int64_t first, int64_t n) {
  models::ImageSet r = s;
  r.count = n;
  const auto per = static_cast<size_t>(s.image_size());
  r.pixels.assign(s.pixels.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(first) * per),
                  s.pixels.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(first + n) * per));
  r.labels.assign(s.labels.begin() + first, s.labels.begin() + first + n);
  return r;
}

// Everything checked before the long work starts: a bad option is one error and writes nothing.
struct Setup {
  std::vector<qat::LayerBits> candidates;
  models::ModelSpec spec;
  MixSpace space;
  Arch arch;
  CalibMethod method = CalibMethod::Mse;
  models::ImageSet search, report;  // the last and the first images of the test split
  int64_t test_count = 0;
  int threads = 1;
};

Setup prepare(const MixprecOptions& o) {
  Setup s;
  s.candidates = parse_candidates(o.candidates);
  if (!std::isfinite(o.max_drop) || o.max_drop < 0)
    throw Error(fmt::format("--max-drop {}: expected accuracy points >= 0", o.max_drop));
  s.spec = trained_spec(o.from);
  s.space = mixprec_space(s.spec, s.candidates);
  s.arch = resolve_arch(o.arch);
  const auto m = calib_method_from_name(o.calib);
  if (!m) throw Error(fmt::format("--calib '{}': expected minmax, ema, percentile, mse or kl", o.calib));
  s.method = *m;
  const models::ImageSet test = models::load_dataset(o.dataset, models::Split::Test);
  if (o.search_images <= 0 || o.report_images <= 0 || o.search_images + o.report_images > test.count)
    throw Error(
        fmt::format("--search-images {} + --report-images {}: need two disjoint, non-empty parts of the {} "
                    "test images of {}",
                    o.search_images, o.report_images, test.count, test.source));
  s.test_count = test.count;
  s.report = slice(test, 0, o.report_images);
  s.search = slice(test, test.count - o.search_images, o.search_images);
  s.threads = static_cast<int>(o.jobs > 0 ? static_cast<unsigned>(o.jobs) : usable_cpus());
  return s;
}

// The scratch model of the point being measured; removed however the run ends.
struct Scratch {
  std::string path;
  ~Scratch() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

}  // namespace

void run_mixprec(const MixprecOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const Setup s = prepare(o);
  set_training_threads(s.threads);  // loads the QAT toolchain: a missing library fails before any output
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw Error(fmt::format("{}: cannot create the output folder: {}", o.out, ec.message()));
  for (const char* f : {"qtable.yaml", "pareto.csv", "report.json", "model.onnx"})
    check_output_path((fs::path(o.out) / f).string());
  qat::PtqJob job;
  job.from = o.from;
  job.data.dataset = o.dataset;
  job.calib_images = o.calib_images;
  job.ptq.method = s.method;
  job.ptq.progress = false;
  spdlog::info("mixprec: {} from {}: {} layers, candidates {}; observing {} calibration images", s.spec.name,
               o.from, s.space.layers.size(), o.candidates, o.calib_images);
  const std::unique_ptr<qat::PtqSession> session = train_api().open_ptq_session(job);

  // Every layer's bits come from the qtable; the first/last-layer defaults of `tpusim ptq` do not
  // apply (the table lists every searched layer, so `ptq --qtable` builds the same model).
  MixEvalSetup es;
  es.session = session.get();
  es.base.bits = s.candidates.front();
  es.base.first_layer_bits = 0;
  es.base.last_layer_bits = 0;
  es.space = &s.space;
  es.arch = s.arch;
  es.threads = s.threads;
  const Scratch scratch{(fs::path(o.out) / fmt::format(".mixprec_point.{}.onnx", ::getpid())).string()};
  es.scratch = scratch.path;

  // Points: base, one per layer and lower choice (twice: sensitivity and greedy), the uniforms.
  int64_t expected = 1 + static_cast<int64_t>(s.candidates.size());
  for (const MixLayer& l : s.space.layers) expected += 2 * static_cast<int64_t>(l.choices.size() - 1) + 2;
  Progress bar("mixprec", "points", o.progress);
  const bool log_lines = ::isatty(STDERR_FILENO) == 0;
  MixEvalTimes times;
  int64_t done = 0;
  const auto t_search = std::chrono::steady_clock::now();
  SearchResult r = search(s.space, s.candidates, o.max_drop / 100, [&](const Assignment& a) {
    MixPoint p = evaluate_assignment(es, a, s.search, times);
    ++done;
    bar.set_suffix(fmt::format("last: {:.2f}%, {} cycles", 100 * p.accuracy, p.cycles));
    bar.update(done, std::max(done, expected));
    // A terminal has the bar; a log (CI, a batch job) gets a line per point, each taking seconds.
    spdlog::log(o.progress && !log_lines ? spdlog::level::debug : spdlog::level::info,
                "mixprec: point {}: {}: {:.2f}%, loss {:.4f}, {} cycles, {:.1f} nJ", done,
                assignment_text(s.space, a), 100 * p.accuracy, p.loss, p.cycles, p.energy_nj);
    return p;
  });
  bar.finish();
  const double search_s = seconds_since(t_search);

  const std::vector<size_t> front = pareto_front(r.points);
  const double floor = accuracy_floor(r, o.max_drop / 100);
  const size_t chosen = r.chosen;

  // The reported accuracies: the chosen and uniform points on the report split, once each.
  const auto t_report = std::chrono::steady_clock::now();
  std::map<size_t, Accuracy> reported;
  std::vector<size_t> to_report{chosen};
  to_report.insert(to_report.end(), r.uniform.begin(), r.uniform.end());
  for (size_t i : to_report) {
    if (reported.count(i)) continue;
    export_assignment(es, r.points[i].assignment, es.scratch);
    reported[i] = int_ref_accuracy(es.scratch, s.report, s.threads);
  }
  const double report_s = seconds_since(t_report);

  export_assignment(es, r.points[chosen].assignment, (fs::path(o.out) / "model.onnx").string());
  const qat::QTable qt = to_qtable(s.space, r.points[chosen].assignment);
  write_file_atomic(
      (fs::path(o.out) / "qtable.yaml").string(),
      qat::qtable_yaml(
          qt, fmt::format("tpusim mixprec: {} for {}, within {} points of {} (report.json)\n"
                          "wXaY: weight bits, bits of the layer's output",
                          s.spec.name, s.arch.name, o.max_drop, qat::bits_name(s.candidates.front()))));
  write_file_atomic((fs::path(o.out) / "pareto.csv").string(), pareto_csv(s.space, r, front, s.arch));

  nlohmann::json uniform = nlohmann::json::object();
  for (size_t c = 0; c < s.candidates.size(); ++c)
    uniform[qat::bits_name(s.candidates[c])] =
        point_json(s.space, r, r.uniform[c], s.arch, reported.at(r.uniform[c]));
  nlohmann::json cand = nlohmann::json::array();
  for (const qat::LayerBits& c : s.candidates) cand.push_back(qat::bits_name(c));
  nlohmann::json layer_names = nlohmann::json::array();
  for (const MixLayer& l : s.space.layers) layer_names.push_back(l.name);
  nlohmann::json report = {
      {"model", s.spec.name},
      {"from", o.from},
      {"arch", s.arch.name},
      {"clock_mhz", s.arch.clock_mhz},
      {"candidates", cand},
      {"layers", layer_names},
      {"max_drop_points", o.max_drop},
      {"method",
       "sensitivity, then greedy by loss increase per cycle saved (docs/qat.md, \"Mixed precision\")"},
      {"calibration", {{"method", o.calib}, {"images", o.calib_images}}},
      {"dataset", o.dataset},
      {"search_split",
       {{"split", "test"}, {"first", s.test_count - s.search.count}, {"images", s.search.count}}},
      {"report_split", {{"split", "test"}, {"first", 0}, {"images", s.report.count}}},
      {"accuracy_floor", floor + 1e-12},
      {"points", r.points.size()},
      {"pareto", front},
      {"greedy_path", r.greedy_path},
      {"sensitivity", sensitivity_json(s.space, r)},
      {"chosen", point_json(s.space, r, chosen, s.arch, reported.at(chosen))},
      {"uniform", uniform},
      {"seconds",
       {{"search", search_s},
        {"export", times.export_s},
        {"int_ref", times.int_ref_s},
        {"simulate", times.simulate_s},
        {"report", report_s}}}};
  const std::string json_path = (fs::path(o.out) / "report.json").string();
  report["seconds"]["total"] = seconds_since(t0);
  write_file_atomic(json_path, report.dump(1) + "\n");
  report["plots"] = o.plots && run_python_script("mixprec_plot.py", {o.out}, "mixprec");
  report["seconds"]["total"] = seconds_since(t0);
  write_file_atomic(json_path, report.dump(1) + "\n");

  const nlohmann::json& c = report["chosen"];
  const nlohmann::json& u = uniform[qat::bits_name(s.candidates.front())];
  write_stdout(
      fmt::format("mixprec {} on {}: {} points, {} on the Pareto front\n"
                  "chosen  {}\n"
                  "        accuracy {:.2f}% (report split, {} images; {} {:.2f}%), {} cycles ({} {}), {:.1f} "
                  "nJ ({:.1f})\n",
                  s.spec.name, s.arch.name, r.points.size(), front.size(),
                  assignment_text(s.space, r.points[chosen].assignment), 100 * c["accuracy"].get<double>(),
                  s.report.count, qat::bits_name(s.candidates.front()), 100 * u["accuracy"].get<double>(),
                  c["cycles"].get<int64_t>(), qat::bits_name(s.candidates.front()),
                  u["cycles"].get<int64_t>(), c["energy_nj"].get<double>(), u["energy_nj"].get<double>()));
  spdlog::info("mixprec: wrote {}/qtable.yaml, model.onnx, pareto.csv, report.json{} in {:.0f} s", o.out,
               report["plots"].get<bool>() ? ", pareto.png" : "", seconds_since(t0));
}

}  // namespace tpusim::workflow
