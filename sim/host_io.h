// The host side of a run: NumPy arrays in (quantized by the input descriptor as ONNX QuantizeLinear
// does), batches over a leading dimension, integer (and dequantized) outputs as .npy files, and the
// batch's statistics. Shared by `tpusim run` and the evaluator; conventions in docs/sim.md
// ("Running from the command line").
//
//   std::vector<HostArray> in = load_inputs(prog, {"x.npy"});
//   BatchResult r = run_batch(prog, arch, in, {});
//   write_output_files(output_files(prog, r, "out", /*dequantize=*/true));
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

#include "base/npy.h"
#include "sim/simulator.h"

namespace tpusim::sim {

// One program input's host data; `source` names it in errors (the .npy path).
struct HostArray {
  std::string source;
  NpyArray array;
};

// Device runs that `a` needs for descriptor `t` (shape [N, rest...]): a.shape == t.shape -> 1;
// [B, rest...] with B a positive multiple of N -> B / N. Anything else throws Error naming the
// source, its shape and the expected shape.
int64_t batch_runs(const HostArray& a, const TensorDesc& t);

// The t.elements() quantized values of run `run` (elements [run*E, (run+1)*E) of `a`). Floats:
// quantize_linear(float(x), t.scale, t.zero_point, t.dtype) (float64 is rounded to float32
// first, as ONNX QuantizeLinear takes float32). Integers are already quantized: a value outside
// t.dtype's range throws Error naming the source, the element and the value.
std::vector<int32_t> quantize_input(const HostArray& a, const TensorDesc& t, int64_t run);

// Matches `--input` arguments to the program's inputs: "NAME=PATH" when NAME is one of the input
// names, else PATH for the next input not named, in program order. Returns one path per program
// input, in program order; throws Error on a missing, duplicated or surplus input.
std::vector<std::string> bind_inputs(const Program& p, const std::vector<std::string>& args);
// bind_inputs + load_npy.
std::vector<HostArray> load_inputs(const Program& p, const std::vector<std::string>& args);

// `--arch NAME|FILE` when given, else the preset the program was compiled for (Error when the
// program names no preset). run() still refuses a fingerprint mismatch.
Arch arch_for_program(const Program& p, const std::string& arch_option);

struct BatchOptions {
  RunOptions run;                                             // keep_events applies to the first run only
  std::function<void(int64_t done, int64_t total)> progress;  // called after each run
  int64_t begin = 0, end = 0;  // only runs [begin, end) of the batch (end 0: to the last), as a worker
};

struct BatchResult {
  int64_t runs = 0;  // runs done: end - begin
  Stats total;       // summed over the runs: one device running them back to back
  std::vector<Stats> per_run;
  RunResult first;                            // the first run: its stats and event log (for traces)
  std::vector<std::vector<int32_t>> outputs;  // per program output: the runs' values, stacked
};

// Runs the program once per batch slice, each from fresh memory (prepare_memory()), so every
// run is independent of the ones before. All inputs must need the same number of runs.
BatchResult run_batch(const Program& p, const Arch& a, const std::vector<HostArray>& inputs,
                      const BatchOptions& opt);

// Adds one run's figures to a running total (cycles, engine occupancy, traffic, counts).
void accumulate(Stats& total, const Stats& run);
// stats.json: to_json(r.total) plus "batch": {"runs", "per_run": [{total_cycles, time_us, macs,
// mac_utilization, acc_overflows, engines}, ...]}.
nlohmann::json batch_stats_json(const BatchResult& r);

// A tensor name as a file name: bytes outside [A-Za-z0-9._-] become '_', a leading '.' too (no
// hidden files, no ".."), empty becomes "_", and it is cut to 200 bytes.
std::string sanitize_file_name(const std::string& name);

// Output `t` of `runs` runs as an integer array of shape [runs*N, rest...]: int8/int4 -> int8,
// uint8/uint4 -> uint8 (4-bit values unpacked, one per element), int32 -> int32.
NpyArray output_array(const TensorDesc& t, int64_t runs, std::span<const int32_t> values);
// The same as float32 dequantize_linear(q, t.scale, t.zero_point).
NpyArray dequantized_array(const TensorDesc& t, int64_t runs, std::span<const int32_t> values);

struct OutputFile {
  std::string path;
  NpyArray array;
};
// DIR/NAME.npy per output, and DIR/NAME.f32.npy with `dequantize` (NAME sanitised). Throws Error
// when two outputs map to the same file.
std::vector<OutputFile> output_files(const Program& p, const BatchResult& r, const std::string& dir,
                                     bool dequantize);
// Creates the directories and writes every file atomically.
void write_output_files(const std::vector<OutputFile>& files);

}  // namespace tpusim::sim
