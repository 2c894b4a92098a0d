// The back end on random multi-op graphs: chains of conv (dense, grouped, depthwise, int4 weights),
// pools, residual eltwise adds, channel concats, lut and requant ops, ending in a flatten view and
// fully connected layers or in attention's integer ops (layernorm, a constant tensor, a MatMul of
// two activations, softmax), with 8- and 4-bit activations and odd sizes. Both schedules
// (--opt 0 and the resident schedule) on every preset, functional and timed, equal run_int bit for
// bit on every tensor they write to DDR and on every output. Timed runs also compile --opt 1
// (greedy layer groups, layernorm/softmax tiled): --opt 2's searched choices must never be slower.
#include <catch2/catch.hpp>

#include "tests/compiler/backend_helpers.h"
#include "tests/support/random_graph.h"

using namespace betest;

namespace {

// What the resident schedule did over all graphs: each path must have been taken.
struct Coverage {
  int graphs = 0, resident = 0, tiled = 0, kept = 0, prefetched = 0, lmem_only = 0, grouped = 0, skips = 0;
  int attention = 0;        // graphs ending in the transformer ops
  int searched_faster = 0;  // timed runs where opt 2's choices beat opt 1's
  int resident_norms = 0;   // layernorm/softmax that opt 2 made resident
};

void check_graphs(int count, uint32_t seed) {
  Rng r(seed);
  Coverage cov;
  for (int i = 0; i < count; ++i) {
    const IntGraph g = random_graph(r, i % 6 == 5);
    for (const IOp& op : g.ops) cov.attention += op.as<IActMatmul>() != nullptr;
    for (const Arch& a : arch_presets()) {
      INFO("graph " << i << " (seed " << seed << ") on " << a.name << ": " << g.ops.size() << " ops, input "
                    << shape_str(g.tensors.at(g.inputs[0]).shape));
      const bool timed = i % 4 == 0 || i % 6 == 5;  // every attention tail timed too
      check_bitexact_opt(g, a, timed, seed + static_cast<uint32_t>(i), 0);
      const BitexactResult res = check_bitexact_opt(g, a, timed, seed + static_cast<uint32_t>(i), kMaxOpt);
      if (timed) {  // opt 2's searched choices are never slower than opt 1's
        const BitexactResult greedy = check_bitexact_opt(g, a, true, seed + static_cast<uint32_t>(i), 1);
        CHECK(res.stats.total_cycles <= greedy.stats.total_cycles);
        cov.searched_faster += res.stats.total_cycles < greedy.stats.total_cycles;
      }
      for (const ScheduleLayer& L : res.report.layers) {
        cov.resident += L.resident, cov.tiled += !L.resident && !L.group, cov.kept += L.kept_input;
        cov.grouped += L.group, cov.skips += L.skip_from_lmem;
        cov.prefetched += L.prefetched_bytes > 0, cov.lmem_only += L.resident && !L.stored;
        cov.resident_norms += L.resident && (L.kind == "layernorm" || L.kind == "softmax");
      }
    }
    ++cov.graphs;
  }
  INFO("resident " << cov.resident << ", tiled " << cov.tiled << ", input kept " << cov.kept
                   << ", prefetched " << cov.prefetched << ", output in LMEM only " << cov.lmem_only
                   << ", in layer groups " << cov.grouped << ", skips from LMEM " << cov.skips
                   << ", attention tails " << cov.attention << ", opt 2 faster than opt 1 "
                   << cov.searched_faster << ", resident layernorm/softmax " << cov.resident_norms);
  CHECK(cov.graphs == count);
  CHECK(cov.resident > 4 * count);
  CHECK(cov.tiled > count / 10);
  CHECK(cov.kept > count);
  CHECK(cov.prefetched > count);
  CHECK(cov.lmem_only > count);
  CHECK(cov.grouped > count / 10);
  CHECK(cov.skips > 0);
  CHECK(cov.attention > count / 20);
  CHECK(cov.resident_norms > 0);
  CHECK(cov.searched_faster > 0);
}

}  // namespace

TEST_CASE("back end: 60 random graphs in both schedules bit-exact on every preset", "[backend]") {
  check_graphs(60, 4100);
}

TEST_CASE("back end: 300 random graphs in both schedules bit-exact on every preset", "[.][graphs300]") {
  check_graphs(300, 9100);
}
