// ONNX models: import (parse, shape inference, canonicalization), quantized lowering, and for a
// small enough integer graph, compilation for a preset and a functional run compared with the
// integer reference, bit for bit (tests/support/random_graph.h, run_bitexact). The first byte picks
// the preset and the schedule; the rest is the model.
#include "compiler/lower.h"
#include "compiler/onnx_import.h"
#include "fuzz/fuzz_common.h"
#include "tests/support/random_graph.h"

using namespace tpusim;
using namespace tpusim::compiler;

namespace {

constexpr uint64_t kMaxElements = 1 << 16;  // all tensors of the integer graph, for the compile step
constexpr uint64_t kMaxMacs = 1 << 22;

uint64_t elements(const Shape& s) {
  uint64_t n = 1;
  for (int64_t d : s) n *= static_cast<uint64_t>(d);
  return n;
}

bool small(const IntGraph& g) {
  uint64_t total = 0, macs = 0;
  for (const auto& [name, t] : g.tensors) total += elements(t.shape);
  for (const IOp& op : g.ops) {
    const Shape& y = g.tensors.at(op.output).shape;  // conv [n, oc, h, w], matmul [m, n]
    const uint64_t per_out = y.size() > 1 ? std::max<uint64_t>(1, static_cast<uint64_t>(y[1])) : 1;
    if (const auto* c = std::get_if<IConv>(&op.kind)) macs += elements(y) * (c->weight.size() / per_out);
    if (const auto* m = std::get_if<IMatmul>(&op.kind)) macs += elements(y) * (m->weight.size() / per_out);
  }
  return total <= kMaxElements && macs <= kMaxMacs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader r(data, size);
  const uint8_t mode = r.byte();
  const std::span<const uint8_t> model = r.rest();
  IntGraph g;
  try {
    g = lower_qdq(import_onnx_bytes(model, "fuzz.onnx"));
  } catch (const Error& e) {
    fuzz::check_error(e);
    return 0;
  }
  if (!small(g)) return 0;
  const std::vector<Arch>& presets = arch_presets();
  const Arch& a = presets[mode % presets.size()];
  try {
    const betest::BitexactResult res = betest::run_bitexact(g, a, false, 1, (mode >> 4) & 1 ? kMaxOpt : 0);
    fuzz::fuzz_check(res.mismatch.empty(), "simulator != run_int: " + res.mismatch);
  } catch (const Error& e) {  // a graph the back end refuses (too big for LMEM, ...)
    fuzz::check_error(e);
  }
  return 0;
}
