// One design point (docs/dse.md): compile the model for the point's architecture, simulate it once,
// timed, on a deterministic pseudo-random input, and report cycles, traffic, energy and area.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "compiler/int_graph.h"
#include "sim/stats.h"
#include "workflow/dse_sweep.h"

namespace tpusim::workflow::dse {

// Imports and lowers a QDQ model; throws Error for an FP32 model (a sweep compiles no calibration).
compiler::IntGraph load_model(const std::string& path);

// Compiles and runs `g` on `a`; throws Error when it does not compile (e.g. no tiling fits LMEM).
sim::Stats simulate(const compiler::IntGraph& g, const Arch& a);

// The metric_columns() of a run: energy in nJ (sim::energy()), area in mm^2, EDP in nJ*us.
nlohmann::json metrics(const sim::Stats& s, const Arch& a);

// The whole points/<id>.json: id, index, params, model_hash, base_arch, status ("ok"; "invalid"
// when the architecture is contradictory; "error" when the model does not compile or run) with
// "error", and for "ok" the point's architecture, metrics and stats.json.
nlohmann::json run_point(const compiler::IntGraph& g, const Arch& base, const Point& p, const SweepKey& key);

}  // namespace tpusim::workflow::dse
