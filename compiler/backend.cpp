// Back end driver: DDR allocation, one tiled schedule per op, I/O descriptors, the schedule report.
#include "compiler/backend.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "compiler/codegen.h"
#include "compiler/ddr_alloc.h"

namespace tpusim::compiler {

namespace {

uint64_t op_macs(const IntGraph& g, const IOp& op) {
  const ITensor& y = g.tensor(op.output);
  if (const IConv* c = op.as<IConv>()) {
    const int64_t icpg = g.tensor(op.inputs[0]).shape[1] / c->groups;
    return static_cast<uint64_t>(num_elements(y.shape) * icpg * c->kernel[0] * c->kernel[1]);
  }
  if (op.as<IMatmul>() || op.as<IActMatmul>())
    return static_cast<uint64_t>(num_elements(y.shape) * g.tensor(op.inputs[0]).shape.back());
  return 0;
}

}  // namespace

TensorDesc tensor_desc(const IntGraph& g, const CompileReport& r, const std::string& name) {
  const ITensor& t = g.tensor(name);
  TensorDesc d;
  d.name = name;
  d.shape = t.shape;
  d.dtype = t.dtype;
  d.scale = t.scale;
  d.zero_point = t.zero_point;
  d.ddr_addr = r.tensor_addr.at(g.storage(name));
  return d;
}

Program compile_int_graph(const IntGraph& g, const Arch& arch, CompileReport* report, int opt) {
  Program p;
  p.arch = ArchRef::of(arch);
  const be::DdrMap ddr = be::allocate_ddr(g, p);
  if (ddr.end > arch.ddr_bytes)
    throw Error(fmt::format("{}: the model needs {} bytes of DDR, the architecture has {}", g.source, ddr.end,
                            arch.ddr_bytes));
  CompileReport local;
  CompileReport& r = report ? *report : local;
  r = CompileReport{};
  r.arch = arch.name;
  r.opt = opt;
  r.tensor_addr = ddr.addr;
  r.ddr_bytes = ddr.end;
  // --opt 2 merges each tile's constant loads into one load of an image placed after the model's
  // DDR, and folds rearranges into the act_matmuls beside them.
  const be::ViewFolds folds(g);
  be::Emitter e(p, arch, opt >= 2 ? be::EmitOptions{ddr.end, &folds} : be::EmitOptions{});
  const double peak = double(arch.lanes) * arch.macs_per_lane;
  const std::vector<be::OpEmitted> done = be::emit_program(e, g, ddr, arch, opt);
  // Every instruction belongs to the op its debug-map node names (prefetches and the slices of a
  // layer group interleave ops in the streams).
  std::map<std::string, int32_t> layer_of;
  for (size_t i = 0; i < g.ops.size(); ++i) layer_of.emplace(g.ops[i].name, static_cast<int32_t>(i));
  r.gdma_owner.assign(p.gdma.size(), -1), r.tiu_owner.assign(p.tiu.size(), -1);
  for (const DebugEntry& d : p.debug)
    if (const auto it = layer_of.find(d.node); it != layer_of.end())
      (d.engine == Engine::Gdma ? r.gdma_owner : r.tiu_owner).at(d.index) = it->second;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const IOp& op = g.ops[i];
    const be::OpEmitted& d = done[i];
    ScheduleLayer L;
    L.name = op.name;
    L.kind = kind_name(op);
    L.macs = op_macs(g, op);
    L.ddr_bytes = e.node_bytes.count(op.name) ? e.node_bytes.at(op.name) : 0;
    L.roofline_cycles = std::max(double(L.macs) / peak, double(L.ddr_bytes) / arch.ddr_bytes_per_cycle);
    L.tiles = d.info.tiles;
    L.double_buffered = d.info.double_buffered;
    L.lmem_bytes_per_lane = d.info.lmem_bytes;
    L.resident = d.resident, L.group = d.group, L.kept_input = d.kept_input, L.stored = d.stored;
    L.skip_from_lmem = d.skip_from_lmem;
    if (d.out_bytes)
      L.out_lmem = d.out_lmem, L.out_lmem_bytes = d.out_bytes, L.out_live_until = g.ops[d.out_last_use].name;
    L.prefetched_bytes = d.prefetched_bytes;
    L.prefetch_begin = d.prefetch_begin, L.prefetch_end = d.prefetch_end;
    r.layers.push_back(L);
    if (d.group && d.group_first == i) r.groups.push_back({i, i, d.info.tiles, d.group_estimate, 0, 0});
    if (d.group) r.groups.back().last = i, r.groups.back().ddr_bytes += L.ddr_bytes;
  }
  // Each layer's [first, last] instruction of each stream (others' may lie between).
  const auto ranges = [&](const std::vector<int32_t>& owner, uint32_t ScheduleLayer::*lo,
                          uint32_t ScheduleLayer::*hi) {
    for (uint32_t k = 0; k < owner.size(); ++k) {
      if (owner[k] < 0) continue;
      ScheduleLayer& L = r.layers[static_cast<size_t>(owner[k])];
      if (L.*hi == 0) L.*lo = k;
      L.*hi = k + 1;
    }
  };
  ranges(r.gdma_owner, &ScheduleLayer::gdma_begin, &ScheduleLayer::gdma_end);
  ranges(r.tiu_owner, &ScheduleLayer::tiu_begin, &ScheduleLayer::tiu_end);
  e.finish();
  if (!e.images.empty()) {  // the ops' constants lie above the activations, up to ddr.end
    uint64_t consts_lo = ddr.end;
    for (const be::OpConsts& c : ddr.consts)
      for (const uint64_t at : {c.weight, c.bias, c.rq, c.table})
        if (at != 0) consts_lo = std::min(consts_lo, at);
    r.ddr_bytes = std::max(r.ddr_bytes, be::finish_images(p, e.images, consts_lo, ddr.end, arch));
  }
  // The program's inputs and outputs carry the ONNX graph's names ("x", not the QuantizeLinear's
  // "x_q"), so `tpusim run -i x=...` and the output files use the names the user's model has.
  const auto io = [&](const std::vector<std::string>& ints, const std::vector<std::string>& floats,
                      std::vector<TensorDesc>& descs) {
    for (size_t k = 0; k < ints.size(); ++k) {
      descs.push_back(tensor_desc(g, r, ints[k]));
      if (floats.size() == ints.size() && !floats[k].empty()) descs.back().name = floats[k];
    }
  };
  io(g.inputs, g.float_inputs, p.inputs);
  io(g.outputs, g.float_outputs, p.outputs);
  validate_program(p, g.source.empty() ? "compiled program" : g.source);
  return p;
}

void fill_sim_cycles(CompileReport& r, const std::vector<InstrTime>& times) {
  uint64_t first = UINT64_MAX, last = 0;
  for (const InstrTime& t : times) first = std::min(first, t.start), last = std::max(last, t.end);
  r.sim_cycles = last > first ? last - first : 0;
  std::vector<uint64_t> lo(r.layers.size(), UINT64_MAX), hi(r.layers.size(), 0);
  for (const InstrTime& t : times) {
    const std::vector<int32_t>& owner = t.engine == Engine::Gdma ? r.gdma_owner : r.tiu_owner;
    if (t.index >= owner.size() || owner[t.index] < 0) continue;
    const auto i = static_cast<size_t>(owner[t.index]);
    lo[i] = std::min(lo[i], t.start), hi[i] = std::max(hi[i], t.end);
  }
  for (CompileReport::Group& G : r.groups) {
    uint64_t glo = UINT64_MAX, ghi = 0;
    for (size_t i = G.first; i <= G.last; ++i) glo = std::min(glo, lo[i]), ghi = std::max(ghi, hi[i]);
    G.sim_cycles = ghi > glo ? ghi - glo : 0;
  }
  for (size_t i = 0; i < r.layers.size(); ++i) {
    ScheduleLayer& L = r.layers[i];
    L.sim_cycles = hi[i] > lo[i] ? hi[i] - lo[i] : 0;
    L.efficiency = L.sim_cycles ? L.roofline_cycles / double(L.sim_cycles) : 0;
  }
}

nlohmann::json CompileReport::to_json() const {
  nlohmann::json layers_j = nlohmann::json::array();
  uint64_t macs = 0, bytes = 0, sim = 0;
  double roof = 0;
  for (const ScheduleLayer& L : layers) {
    nlohmann::json j = {{"name", L.name},
                        {"kind", L.kind},
                        {"macs", L.macs},
                        {"ddr_bytes", L.ddr_bytes},
                        {"roofline_cycles", L.roofline_cycles},
                        {"tiles", L.tiles},
                        {"double_buffered", L.double_buffered},
                        {"lmem_bytes_per_lane", L.lmem_bytes_per_lane},
                        {"gdma", {L.gdma_begin, L.gdma_end}},
                        {"tiu", {L.tiu_begin, L.tiu_end}},
                        {"schedule", L.resident ? "resident"
                                     : L.group  ? "group"
                                                : "tiled"}};
    if (L.resident || L.group) {
      j["input_from_lmem"] = L.kept_input;
      j["output_to_ddr"] = L.stored;
      if (L.group && L.skip_from_lmem) j["skip_from_lmem"] = true;
      j["prefetched_bytes"] = L.prefetched_bytes;
      if (L.prefetch_end > L.prefetch_begin) j["prefetch_gdma"] = {L.prefetch_begin, L.prefetch_end};
      if (L.out_lmem_bytes)
        j["lmem_output"] = {
            {"offset", L.out_lmem}, {"bytes_per_lane", L.out_lmem_bytes}, {"live_until", L.out_live_until}};
    }
    if (L.sim_cycles) j["sim_cycles"] = L.sim_cycles, j["efficiency"] = L.efficiency;
    layers_j.push_back(j);
    macs += L.macs, bytes += L.ddr_bytes, roof += L.roofline_cycles, sim += L.sim_cycles;
  }
  nlohmann::json j = {{"arch", arch},           {"opt", opt},         {"ddr_bytes", ddr_bytes},
                      {"layers", layers_j},     {"total_macs", macs}, {"total_ddr_moved", bytes},
                      {"roofline_cycles", roof}};
  if (sim) j["sim_cycles"] = sim_cycles ? sim_cycles : sim;
  nlohmann::json groups_j = nlohmann::json::array();
  for (const Group& G : groups) {
    nlohmann::json g = {{"first", layers[G.first].name},  {"last", layers[G.last].name},
                        {"layers", G.last - G.first + 1}, {"slices", G.slices},
                        {"ddr_bytes", G.ddr_bytes},       {"estimated_cycles", G.estimated_cycles}};
    if (G.sim_cycles) {
      g["sim_cycles"] = G.sim_cycles;
      g["estimate_error"] = G.estimated_cycles / double(G.sim_cycles) - 1;
    }
    groups_j.push_back(g);
  }
  j["groups"] = groups_j;
  return j;
}

}  // namespace tpusim::compiler
