#include "workflow/eval_report.h"

#include <fmt/format.h>

namespace tpusim::workflow {

namespace {

double per(uint64_t total, int64_t images) { return images > 0 ? double(total) / double(images) : 0.0; }

}  // namespace

nlohmann::json per_image_perf(const SimEvalResult& r, const Arch& a) {
  const sim::Stats& s = r.total;
  const double cycles = per(s.total_cycles, r.images);
  nlohmann::json engines;
  for (Engine e : {Engine::Gdma, Engine::Tiu}) {
    const sim::EngineStats& es = s.engine(e);
    engines[e == Engine::Gdma ? "gdma" : "tiu"] = {{"busy", per(es.busy, r.images)},
                                                   {"waiting", per(es.waiting, r.images)},
                                                   {"idle", per(es.idle, r.images)}};
  }
  return {{"cycles", cycles},
          {"latency_us", a.clock_mhz > 0 ? cycles / a.clock_mhz : 0.0},
          {"macs", per(s.macs, r.images)},
          {"mac_utilization", s.mac_utilization()},
          {"ddr_read_bytes", per(s.ddr_read_bytes, r.images)},
          {"ddr_write_bytes", per(s.ddr_write_bytes, r.images)},
          {"lmem_read_bytes", per(s.lmem_read_bytes, r.images)},
          {"lmem_write_bytes", per(s.lmem_write_bytes, r.images)},
          {"acc_overflows", s.acc_overflows},
          {"engines", engines}};
}

nlohmann::json eval_json(const EvalReport& e) {
  const SimEvalResult& r = *e.sim;
  nlohmann::json j = {
      {"program", e.program},        {"arch", e.arch.name}, {"clock_mhz", e.arch.clock_mhz},
      {"dataset", e.dataset},        {"source", e.source},  {"images", r.images},
      {"correct", r.correct},        {"top1", r.top1},      {"functional", r.total.functional},
      {"predictions", r.predictions}};
  if (!r.total.functional) j["per_image"] = per_image_perf(r, e.arch);
  j["stats"] = sim::to_json(r.total);  // summed over the images (one device, back to back)
  if (e.reference)
    j["integer_reference"] = {
        {"top1", e.reference->top1}, {"images", e.reference->images}, {"identical_outputs", e.identical}};
  return j;
}

std::string eval_text(const EvalReport& e) {
  const SimEvalResult& r = *e.sim;
  std::string s = fmt::format("eval {} on {} ({} images; {})\n", e.program, e.dataset, r.images, e.source);
  s += fmt::format("top-1 simulator          {:6.2f}%  ({}/{})\n", 100 * r.top1, r.correct, r.images);
  if (e.reference)
    s += fmt::format("top-1 integer reference  {:6.2f}%  outputs identical on {}/{} images{}\n",
                     100 * e.reference->top1, e.identical, r.images,
                     e.identical == r.images ? " (bit-exact)" : "");
  if (!r.total.functional) {
    const nlohmann::json pi = per_image_perf(r, e.arch);
    s += fmt::format(
        "per image: {:.0f} cycles, {:.3f} us at {} MHz, {:.2f} M MACs, MAC utilization {:.1f}%, DDR {:.1f} "
        "KiB "
        "(read {:.1f}, write {:.1f})\n",
        pi["cycles"].get<double>(), pi["latency_us"].get<double>(), e.arch.clock_mhz,
        pi["macs"].get<double>() / 1e6, 100 * pi["mac_utilization"].get<double>(),
        (pi["ddr_read_bytes"].get<double>() + pi["ddr_write_bytes"].get<double>()) / 1024,
        pi["ddr_read_bytes"].get<double>() / 1024, pi["ddr_write_bytes"].get<double>() / 1024);
  }
  if (r.total.acc_overflows > 0)
    s += fmt::format("warning: {} int32 accumulator saturations\n", r.total.acc_overflows);
  return s;
}

}  // namespace tpusim::workflow
