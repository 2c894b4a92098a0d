// Internals of the switchable emulation (attribution.h): attribution.cpp builds it from the integer
// op and the FP32 graph, attribution_emulate.cpp runs it. Not part of the compiler's API.
#pragma once
#include <fmt/format.h>

#include <limits>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "compiler/attribution.h"

namespace tpusim::compiler {

struct LayerEmulation::Impl {
  IOp op;
  std::vector<ITensor> in;  // the op's input tensors (views as plain tensors)
  ITensor out;
  std::vector<std::string> fin;
  std::string fout, where;  // `where` names the op in errors
  Graph seg;                // the FP32 nodes from the inputs to the output
  std::vector<std::string> seg_inputs;
  bool tail = false, lut = false, matmul = false;
  float act_lo = -std::numeric_limits<float>::infinity(),
        act_hi = std::numeric_limits<float>::infinity();  // Relu/Clip ending the FP32 segment
  std::string w_name, b_name;                             // constants of `seg` the switches replace
  // Per FP32 weight element: its value, its channel's scale, the integer graph's value and how many
  // steps that differs from the FP32 weight rounded and clipped (QAT's update).
  std::vector<float> w_fp32, w_scale, w_hw, b_fp32, b_q;
  std::vector<int32_t> w_delta;
  DTypeTraits w_type{};
  bool updated = false;

  // The weights with the weight sources of `s` applied (attribution_emulate.cpp).
  std::vector<float> weights(const Sources& s) const;

  [[noreturn]] void fail(const std::string& why) const { throw Error(fmt::format("{}: {}", where, why)); }

  // The FP32 nodes tensor `t` needs, back to the op's inputs and constants (fails otherwise).
  void collect(const Graph& f, const std::string& t, std::set<const Node*>& nodes) const;
  // `seg` from them (BatchNormalization folded), and the Relu/Clip bounds that end it.
  void build_segment(const Graph& f);

  // Replaces input `i` of node `n` by a constant of its own, so each run can set its values.
  std::string own_constant(Node& n, size_t i, const char* tag);

  // The Conv/Gemm/MatMul of `seg` and its bias: their FP32 values and the integer op's, on the
  // weights' per-channel grid `ws`; alpha/beta of a Gemm.
  void bind_weights(const std::vector<int8_t>& wq, DType wt, const std::vector<float>& ws,
                    const std::vector<int32_t>& bias, double alpha, double beta);
};

}  // namespace tpusim::compiler
