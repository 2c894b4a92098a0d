#include "workflow/trained_model.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file_io.h"

namespace tpusim::workflow {

models::ModelSpec trained_spec(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "report.json").string();
  if (!std::filesystem::exists(path))
    throw Error(fmt::format("{}: not found ({} is not a `tpusim train` output folder)", path, dir));
  try {
    const nlohmann::json r = nlohmann::json::parse(read_file_text(path));
    if (r.value("kind", "") != "fp32")
      throw Error(fmt::format("{}: holds a '{}' model; --from wants a `tpusim train` folder", dir,
                              r.value("kind", "?")));
    const auto& in = r.at("input");
    return models::model_spec(r.at("model").get<std::string>(), in.at(0), in.at(1), in.at(2),
                              r.at("classes"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not a valid report: {}", path, e.what()));
  }
}

qat::QTable read_qtable_for(const std::string& path, const std::string& from) {
  const models::ModelSpec spec = trained_spec(from);
  qat::QTable t = qat::read_qtable(path);
  std::vector<std::string> names;
  for (const models::Layer& l : spec.layers) names.push_back(l.name);
  qat::check_qtable_layers(t, names, spec.name, path);
  return t;
}

}  // namespace tpusim::workflow
