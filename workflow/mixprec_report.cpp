#include "workflow/mixprec_report.h"

#include <fmt/format.h>

#include <algorithm>

namespace tpusim::workflow {

std::string pareto_csv(const MixSpace& space, const SearchResult& r, const std::vector<size_t>& front,
                       const Arch& arch) {
  std::string s = "index,origin,pareto,accuracy,loss,cycles,latency_us,energy_nj,weight_bytes";
  for (const qat::QTableEntry& e : to_qtable(space, Assignment(space.layers.size(), 0)))
    s += "," + e.layer;  // zoo names: no commas or quotes
  s += "\n";
  for (size_t i = 0; i < r.points.size(); ++i) {
    const MixPoint& p = r.points[i];
    const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    s += fmt::format("{},{},{},{:.6f},{:.6f},{},{:.4f},{:.3f},{}", i, p.origin, on_front ? 1 : 0, p.accuracy,
                     p.loss, p.cycles, static_cast<double>(p.cycles) / arch.clock_mhz, p.energy_nj,
                     p.weight_bytes);
    for (const qat::QTableEntry& e : to_qtable(space, p.assignment)) s += "," + qat::bits_name(e.bits);
    s += "\n";
  }
  return s;
}

nlohmann::json point_json(const MixSpace& space, const SearchResult& r, size_t point, const Arch& arch,
                          const std::optional<Accuracy>& report) {
  const MixPoint& p = r.points.at(point);
  nlohmann::json qt = nlohmann::json::object();
  for (const qat::QTableEntry& e : to_qtable(space, p.assignment)) qt[e.layer] = qat::bits_name(e.bits);
  return {{"accuracy", report ? nlohmann::json(report->top1) : nlohmann::json()},
          {"loss", report ? nlohmann::json(report->loss) : nlohmann::json()},
          {"search_accuracy", p.accuracy},
          {"search_loss", p.loss},
          {"cycles", p.cycles},
          {"latency_us", static_cast<double>(p.cycles) / arch.clock_mhz},
          {"energy_nj", p.energy_nj},
          {"weight_bytes", p.weight_bytes},
          {"point", point},
          {"origin", p.origin},
          {"qtable", qt}};
}

nlohmann::json sensitivity_json(const MixSpace& space, const SearchResult& r) {
  const std::vector<MixLayer>& layers = space.layers;
  nlohmann::json j = nlohmann::json::array();
  for (const Sensitivity& s : r.sensitivity)
    j.push_back({{"layer", layers[s.layer].name},
                 {"operands", qat::bits_name(layers[s.layer].choices[static_cast<size_t>(s.choice)])},
                 {"loss_increase", s.loss_increase},
                 {"accuracy_drop_points", 100 * s.accuracy_drop},
                 {"cycles_saved", s.cycles_saved},
                 {"point", s.point}});
  return j;
}

}  // namespace tpusim::workflow
